using System.CommandLine;
using System.Text.Json;
using DetailFlow.Cli;
using DetailFlow.Cli.Commands;
using DetailFlow.Cli.Console;

namespace DetailFlow.Api.Tests;

/// <summary><c>detailflow bench serve</c> parsed and run by the real command line against the service with the tiny model.</summary>
public sealed class BenchServeTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private sealed class RecordingUi : IConsoleUi
    {
        public List<string> Lines { get; } = [];
        public List<string> Errors { get; } = [];
        public void Line(string text) => Lines.Add(text);
        public void Info(string text) { }
        public void Success(string text) { }
        public void Error(string text) => Errors.Add(text);
        public void Table(string[] headers, IEnumerable<string[]> rows) => Lines.AddRange(rows.Select(r => string.Join(" | ", r)));
    }

    private static async Task<(int Exit, RecordingUi Ui)> RunAsync(string commandLine)
    {
        var ui = new RecordingUi();
        var root = new RootCommand { new BenchCommand(ui) };
        return (await root.Parse(commandLine).InvokeAsync(), ui);
    }

    private string Url => api.CreateClient().BaseAddress!.ToString().TrimEnd('/');

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BenchServe_Json_ReportsThroughputLatencyAndNoErrors(bool stream)
    {
        var (exit, ui) = await RunAsync($"bench serve --url {Url} --clients 2 --seconds 0.5 --tokens 12 --json{(stream ? " --stream" : "")}");
        Assert.Equal(ExitCodes.Success, exit);
        var report = JsonDocument.Parse(Assert.Single(ui.Lines)).RootElement;
        Assert.Equal(2, report.GetProperty("clients").GetInt32());
        Assert.Equal(0, report.GetProperty("errors").GetInt32());
        int completed = report.GetProperty("completed").GetInt32();
        Assert.True(completed >= 2, $"{completed} images");
        Assert.Equal(completed, report.GetProperty("requests").GetInt32());
        Assert.True(report.GetProperty("images_per_second").GetDouble() > 0);
        double p50 = report.GetProperty("latency_p50_ms").GetDouble(), p95 = report.GetProperty("latency_p95_ms").GetDouble();
        Assert.InRange(p50, double.Epsilon, p95);
        var first = report.GetProperty("first_preview_p50_ms");
        if (stream) Assert.InRange(first.GetDouble(), double.Epsilon, p95);
        else Assert.Equal(JsonValueKind.Null, first.ValueKind);
    }

    [Fact]
    public async Task BenchServe_Table_ListsTheMetrics()
    {
        var (exit, ui) = await RunAsync($"bench serve --url {Url} --seconds 0.2 --tokens 4 --stream");
        Assert.Equal(ExitCodes.Success, exit);
        foreach (var metric in new[] { "throughput", "latency p50", "latency p95", "first preview p50" })
            Assert.Contains(ui.Lines, l => l.StartsWith(metric, StringComparison.Ordinal));
    }

    [Fact]
    public async Task BenchServe_Probe_ReportsIdleAndMidFlightLatenciesAndTheirRatio()
    {
        var (exit, ui) = await RunAsync($"bench serve --url {Url} --probe 3 --clients 2 --tokens 12 --json");
        Assert.Equal(ExitCodes.Success, exit);
        var report = JsonDocument.Parse(Assert.Single(ui.Lines)).RootElement;
        Assert.Equal(2, report.GetProperty("background_clients").GetInt32());
        Assert.Equal(3, report.GetProperty("probes").GetInt32());
        var idle = report.GetProperty("idle_ms").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var busy = report.GetProperty("mid_flight_ms").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(6, idle.Length);   // 3 before, 3 after the mid-flight phase
        Assert.Equal(3, busy.Length);
        Assert.All(idle.Concat(busy), v => Assert.True(v > 0));
        double idleP50 = report.GetProperty("idle_p50_ms").GetDouble(), busyP50 = report.GetProperty("mid_flight_p50_ms").GetDouble();
        double idleMid = (idle.Order().ElementAt(2) + idle.Order().ElementAt(3)) / 2;   // of the rounded values
        Assert.InRange(idleP50, idleMid - 0.11, idleMid + 0.11);
        Assert.InRange(busyP50, busy.Order().ElementAt(1) - 0.11, busy.Order().ElementAt(1) + 0.11);
        // The ratio is of the unrounded medians; each reported median is within 0.05 ms of its own (rounded to 0.1 ms),
        // which at the tiny model's latencies of a few milliseconds is a few per cent of the ratio.
        double ratio = report.GetProperty("ratio").GetDouble();
        const double half = 0.05 + 1e-9;
        Assert.InRange(ratio, (busyP50 - half) / (idleP50 + half), (busyP50 + half) / (idleP50 - half));
        Assert.True(report.GetProperty("background_images_per_second").GetDouble() > 0);
    }

    [Fact]
    public async Task BenchServe_ProbeTable_ShowsTheRatio()
    {
        var (exit, ui) = await RunAsync($"bench serve --url {Url} --probe 1 --tokens 4");
        Assert.Equal(ExitCodes.Success, exit);
        foreach (var metric in new[] { "idle latency p50", "mid-flight latency p50 (1 background)", "ratio mid-flight / idle", "load average" })
            Assert.Contains(ui.Lines, l => l.StartsWith(metric, StringComparison.Ordinal));
    }

    [Fact]
    public async Task BenchServe_WithARooflineFile_ReportsTheFractionOfItsFloor()
    {
        var (rooflineExit, roofline) = await RunAsync("bench roofline --preset tiny --budget 0.2 --requests 2 --json");
        Assert.Equal(ExitCodes.Success, rooflineExit);
        string file = Path.Combine(Directory.CreateTempSubdirectory("roofline-").FullName, "roofline.json");
        await File.WriteAllTextAsync(file, Assert.Single(roofline.Lines));
        double single = JsonDocument.Parse(roofline.Lines[0]).RootElement.GetProperty("floor").GetProperty("single_seconds").GetDouble();

        var (exit, ui) = await RunAsync($"bench serve --url {Url} --clients 1 --seconds 0.3 --tokens 12 --json --roofline {file}");
        Assert.Equal(ExitCodes.Success, exit);
        var report = JsonDocument.Parse(Assert.Single(ui.Lines)).RootElement;
        Assert.Equal(single, report.GetProperty("floor_seconds_per_image").GetDouble(), 9);
        double p50 = report.GetProperty("latency_p50_ms").GetDouble() / 1000;
        Assert.Equal(single / p50, report.GetProperty("floor_fraction").GetDouble(), 6);

        var (badExit, bad) = await RunAsync($"bench serve --url {Url} --seconds 0.2 --roofline {file}.missing");
        Assert.Equal(ExitCodes.InvalidInput, badExit);
        Assert.Contains(bad.Errors, e => e.StartsWith("--roofline", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://192.0.2.1:5000")]
    [InlineData("http://example.com")]
    [InlineData("ftp://127.0.0.1/")]
    public async Task BenchServe_NonLoopbackUrl_IsRefusedBeforeAnyRequest(string url)
    {
        var (exit, ui) = await RunAsync($"bench serve --url {url} --seconds 1");
        Assert.Equal(ExitCodes.InvalidInput, exit);
        Assert.Contains("--url", Assert.Single(ui.Errors));
    }
}
