using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Generation;

/// <summary>
/// The official sampler <c>generate_group_par</c> (spec §7.1–§7.3): no KV cache, the whole prefix is recomputed every
/// step — one call on the class token, C − 1 single-code calls, then one call per group of G codes taking the last G
/// positions. CFG runs [cond rows; null rows]. Unlike the official code, a request with scale 1.0 runs no null row.
/// Kept as the reference the KV-cached engine is tested and benchmarked against.
/// </summary>
public sealed class RecomputeSampler(GptTransformer model)
{
    private readonly GptTransformer _model = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>
    /// Generates <paramref name="codeCount"/> codes (default N = block_size; a multiple of G, as the official
    /// <c>max_new_tokens</c>) for each class label, row i with <paramref name="options"/>[i]. Optionally records
    /// each row's step logits into <paramref name="record"/>[i].
    /// </summary>
    public long[][] Generate(IReadOnlyList<long> classes, IReadOnlyList<SamplingOptions> options, int? codeCount = null,
        IReadOnlyList<StepLogits>? record = null, CancellationToken cancellationToken = default)
    {
        var config = _model.Config;
        var layout = _model.Layout;
        int total = codeCount ?? config.BlockSize;
        if (classes.Count == 0) throw new ArgumentException("no class labels given", nameof(classes));
        if (options.Count != classes.Count)
            throw new ArgumentException($"{classes.Count} class labels need as many options, got {options.Count}", nameof(options));
        if (total <= layout.CausalNum || total > config.BlockSize || total % config.GroupSize != 0)
            throw new ArgumentOutOfRangeException(nameof(codeCount), total,
                $"code count must be a multiple of group size {config.GroupSize} in ({layout.CausalNum}, {config.BlockSize}]");
        if (record is not null && record.Count != classes.Count)
            throw new ArgumentException($"{classes.Count} rows need as many step-logit records, got {record.Count}", nameof(record));
        for (int i = 0; i < classes.Count; i++) options[i].Validate(config, [classes[i]]);

        int batch = classes.Count;
        var guided = Enumerable.Range(0, batch).Where(i => options[i].UsesGuidance).ToArray();
        var rowClasses = classes.Concat(guided.Select(_ => (long)config.NullClass)).ToArray(); // [cond; null]
        var codes = Enumerable.Range(0, batch).Select(_ => new long[total]).ToArray();
        using var sampler = new RowSampler();

        for (int t = 0; t < total; t += layout.CodesPerStep(t))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            int n = layout.CodesPerStep(t);
            var inputRows = Enumerable.Range(0, batch).Concat(guided).ToArray();
            var input = torch.tensor(inputRows.SelectMany(r => codes[r].Take(t)).ToArray(), [inputRows.Length, t], device: _model.Device);
            var logits = _model.Forward(input, torch.tensor(rowClasses, device: _model.Device)).narrow(1, t, n); // [R, n, V]

            var perRow = new Tensor[batch];
            for (int i = 0; i < batch; i++)
            {
                var cond = logits[i];                                                        // [n, V]
                int nullRow = Array.IndexOf(guided, i);
                Tensor? uncond = nullRow >= 0 ? logits[batch + nullRow] : null;
                perRow[i] = uncond is null
                    ? cond
                    : ClassifierFreeGuidance.Combine(cond, uncond, ClassifierFreeGuidance.ScaleAt(options[i], layout, t, total));
                record?[i].Record(t, perRow[i], cond, uncond);
            }
            var flat = torch.stack(perRow).view(batch * n, -1);                              // [B·n, V]
            var rowOptions = Enumerable.Range(0, batch * n).Select(r => options[r / n]).ToArray();
            var codeIndex = Enumerable.Range(0, batch * n).Select(r => t + r % n).ToArray();
            var drawn = sampler.Sample(flat, rowOptions, codeIndex);
            for (int r = 0; r < drawn.Length; r++) codes[r / n][t + r % n] = drawn[r];
        }
        return codes;
    }
}
