using DetailFlow.Core.Decoding;
using DetailFlow.Parity;

namespace DetailFlow.Core.Tests.Decoding;

/// <summary>The tokenizer_decode fixture (official <c>decode_code</c> outputs) through the ONNX Runtime decoder.</summary>
public class OnnxFixtureParityTests
{
    [Fact]
    public void TokenizerDecodeFixturePassesThroughOnnxRuntime()
    {
        int onnxDecodes = 0;
        var @case = new TokenizerDecodeCase(m =>
        {
            onnxDecodes++;
            return OnnxDecoderBackend.Create(m);
        });
        var report = new ParityReport("tokenizer_decode", @case.Kind);
        @case.Check(TestFixtures.Set, "tokenizer_decode", report, CancellationToken.None);
        Assert.True(report.Passed, string.Join("\n", report.Failures));
        Assert.Equal(1, onnxDecodes);
        Assert.Contains(report.Details, d => d.Contains("pixels", StringComparison.Ordinal));
    }
}
