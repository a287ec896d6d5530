using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using TorchSharp;

namespace DetailFlow.Core.Tests.Generation;

/// <summary>What the engine tests share: requests, a row's result, a request run alone, and tensor comparisons.</summary>
internal static class EngineRuns
{
    /// <summary>Tensors alive on this thread (the test's own thread: other test classes run in parallel).</summary>
    public static long LiveTensors => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    public static GenerationRequest Request(long label, SamplingOptions options) => new() { ClassLabel = label, Options = options };

    /// <summary>The engine is synchronous: a row's codes are there once the steps that finish it have run.</summary>
    public static long[] Done(GenerationRow row)
    {
        Assert.True(row.Completion.IsCompletedSuccessfully, $"row not finished: {row.Completion.Status}");
        return row.Completion.Result;
    }

    public static long[] Alone(GptTransformer model, GenerationRequest request)
    {
        using var engine = new NextDetailEngine(model, maxRows: 2);
        return engine.Generate([request])[0];
    }

    /// <summary>Max |expected − actual| ≤ atol (its temporaries disposed: tests count live tensors).</summary>
    public static void AssertClose(torch.Tensor expected, torch.Tensor actual, double atol)
    {
        using var scope = torch.NewDisposeScope();
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= atol, $"max abs diff {diff:E3} > {atol:E0}");
    }
}
