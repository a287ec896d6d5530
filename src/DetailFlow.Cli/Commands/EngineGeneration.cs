using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// How the CLI's sampling commands generate: through the KV-cached <see cref="NextDetailEngine"/>, the path the service
/// and <c>eval-c2i</c> use, so every production caller shares one generation path. Each row's codes depend only on its
/// class, options and seed (the engine is equivalent to the reference <see cref="RecomputeSampler"/>), so rows queue for
/// a bounded cache without changing their results.
/// </summary>
public static class EngineGeneration
{
    /// <summary>Requests generating at once; the KV cache holds two rows (guided and unguided) for each.</summary>
    public const int MaxConcurrent = 16;

    public static long[][] Generate(GptTransformer gpt, IReadOnlyList<long> classes, IReadOnlyList<SamplingOptions> options,
        CancellationToken cancellationToken = default)
    {
        if (classes.Count != options.Count) throw new ArgumentException($"{classes.Count} classes but {options.Count} option sets", nameof(options));
        if (classes.Count == 0) return [];
        using var engine = new NextDetailEngine(gpt, maxRows: 2 * Math.Min(classes.Count, MaxConcurrent));
        var requests = classes.Select((c, i) => new GenerationRequest { ClassLabel = c, Options = options[i], CancellationToken = cancellationToken }).ToList();
        return engine.Generate(requests, cancellationToken);
    }
}
