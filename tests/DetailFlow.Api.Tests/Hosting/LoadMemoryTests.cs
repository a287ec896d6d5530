using System.Globalization;
using System.Text.RegularExpressions;

namespace DetailFlow.Api.Tests;

public sealed partial class LoadMemoryTests(LogCapturingFactory api) : IClassFixture<LogCapturingFactory>
{
    /// <summary>
    /// The heap the load freed (read buffers, probe weights, plain copies of packed weights) is handed back before the
    /// service reports ready, not at the inference thread's first trim; the log says how much.
    /// </summary>
    [Fact]
    public void Load_HandsTheFreedHeapBack_BeforeReady()
    {
        if (!OperatingSystem.IsLinux()) return;                                          // malloc_trim is glibc's
        var line = Assert.Single(api.Lines, l => l.Contains("with its freed heap handed back", StringComparison.Ordinal));
        var match = Resident().Match(line);
        Assert.True(match.Success, line);
        long before = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), after = long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.InRange(after, 1, before + 64);                                           // the tiny model frees little; other threads allocate meanwhile
    }

    /// <summary>
    /// The first model's engine, with its KV cache, is built before the service reports ready, not by the first request
    /// (this class sends none): the whole cache, layers × keys and values × rows × heads × (N + 1) × hd.
    /// </summary>
    [Fact]
    public Task Ready_TheKvCacheIsAllocated_BeforeAnyRequest() =>
        KvCacheGauge.WaitForEngines(api.Services, 1, "the KV cache was not built before ready");

    [GeneratedRegex(@"resident (\d+) MB after the load, (\d+) MB")]
    private static partial Regex Resident();
}
