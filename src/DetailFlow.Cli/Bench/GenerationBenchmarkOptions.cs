using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Cli.Bench;

/// <summary>The generation engines <c>bench generate</c> can time.</summary>
public enum BenchEngine
{
    /// <summary>The KV-cached <see cref="DetailFlow.Core.Generation.NextDetailEngine"/>.</summary>
    Kv,

    /// <summary>The official full-recompute algorithm (<see cref="DetailFlow.Core.Generation.RecomputeSampler"/>).</summary>
    Recompute,
}

/// <summary>
/// Settings of <c>detailflow bench generate</c>. The model is a randomly initialised GPT of <see cref="Model"/>'s
/// shape (default GPT-L as released for DetailFlow-16: 24×1024, 16 heads, vocab 8192, 1000 classes, N = 128, G = 8).
/// </summary>
public sealed record GenerationBenchmarkOptions
{
    public IReadOnlyList<int> Concurrency { get; init; } = [1, 4, 16];
    public int Runs { get; init; } = 3;
    /// <summary>Weight precisions to time; <see cref="ModelPrecision.Auto"/> runs what the service's probe picks here.</summary>
    public IReadOnlyList<ModelPrecision> Precisions { get; init; } = [ModelPrecision.Auto];
    public IReadOnlyList<BenchEngine> Engines { get; init; } = [BenchEngine.Kv, BenchEngine.Recompute];
    /// <summary>Weight layout; <see cref="WeightLayout.Auto"/> runs what the service's probe picks here.</summary>
    public WeightLayout Weights { get; init; } = WeightLayout.Auto;
    /// <summary>Cached attention; <see cref="AttentionKernel.Auto"/> runs what the service's probe picks here.</summary>
    public AttentionKernel Attention { get; init; } = AttentionKernel.Auto;
    /// <summary>Up to how many rows packed bf16 products run in C# (<see cref="BlockedProduct"/>); null runs what the service's probe picks here.</summary>
    public int? HostRows { get; init; }
    public double CfgScale { get; init; } = 1.5;
    public bool Json { get; init; }
    public GptConfig Model { get; init; } = new() { Dim = 1024, NLayer = 24, NHead = 16, VocabSize = 8192, NumClasses = 1000, BlockSize = 128, GroupSize = 8 };

    /// <summary>
    /// Hook for decoder preview timings (the tokenizer side): called after the generation rows, it may append entries
    /// to <see cref="GenerationBenchmarkReport.Previews"/>.
    /// </summary>
    public Func<GenerationBenchmarkReport, CancellationToken, Task>? AddPreviews { get; init; }

    /// <summary>Seconds of GEMM timing for the roofline (each of the GPT and the decoder); the Auto choice comes from the same timings.</summary>
    public double RooflineBudgetSeconds { get; init; } = 2;

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public GenerationBenchmarkOptions Validate()
    {
        if (Concurrency.Count == 0 || Concurrency.Any(c => c < 1))
            throw new ArgumentException($"--concurrency: need positive request counts, got '{string.Join(",", Concurrency)}'", nameof(Concurrency));
        if (Runs < 1) throw new ArgumentException($"--runs: need at least 1 timed run, got {Runs}", nameof(Runs));
        if (Precisions.Count == 0) throw new ArgumentException("--dtype: need at least one of auto, fp32, bf16, fp16", nameof(Precisions));
        if (Engines.Count == 0) throw new ArgumentException("--engines: need at least one of kv, recompute", nameof(Engines));
        if (HostRows < 0) throw new ArgumentException($"--host-rows: need a row count ≥ 0, got {HostRows}", nameof(HostRows));
        Model.Validate();
        return this;
    }
}
