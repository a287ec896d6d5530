using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using DetailFlow.Cli.Bench;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Cli.Commands;

/// <summary>The <c>--json</c> document of <c>bench roofline</c> (read back by <c>bench serve --roofline</c>).</summary>
public sealed record RooflineDocument(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("measurement")] RooflineMeasurement Measurement,
    [property: JsonPropertyName("floor")] RooflineFloor Floor);

/// <summary>
/// <c>detailflow bench roofline [--preset gpt-l | --model-dir DIR] [--requests 16] [--dtype auto] [--json]</c>: this
/// machine's GEMM rate per precision at the model's shapes, its memory bandwidth, and the floors they imply for the model
/// (<see cref="RooflineFloor"/>: s/image at one request and at saturation, decode included).
/// </summary>
public sealed class BenchRooflineCommand : BaseCommand
{
    private static readonly Option<string> s_preset = new("--preset") { Description = "Model shapes: tiny, mid or gpt-l (RandomModelPreset)", DefaultValueFactory = _ => "gpt-l" };
    private static readonly Option<DirectoryInfo?> s_dir = new("--model-dir") { Description = "Use the shapes of gpt.json + tokenizer.json in this folder instead of a preset" };
    private static readonly Option<int> s_requests = new("--requests") { Description = "Concurrent guided requests at saturation (2 KV rows each)", DefaultValueFactory = _ => 16 };
    private static readonly Option<string> s_dtype = new("--dtype") { Description = "Precision of the floors: auto (the measured choice), fp32, bf16, fp16", DefaultValueFactory = _ => "auto" };
    private static readonly Option<double> s_budget = new("--budget") { Description = "Seconds of GEMM timing for each of the GPT and the decoder", DefaultValueFactory = _ => 6 };
    private static readonly Option<int?> s_threads = new("--threads") { Description = "torch intra-op threads (default: libtorch's choice)" };
    private static readonly Option<bool> s_json = new("--json") { Description = "Print {\"model\",\"measurement\",\"floor\"} as JSON (input of bench serve --roofline)" };

    public BenchRooflineCommand(IConsoleUi ui) : base("roofline", "Measure this machine's GEMM and bandwidth limits and the floors they set for a model", ui)
    {
        foreach (var o in new Option[] { s_preset, s_dir, s_requests, s_dtype, s_budget, s_threads, s_json }) Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        string name;
        GptConfig gpt;
        TokenizerConfig tokenizer;
        if (parse.GetValue(s_dir) is { } dir)
        {
            string g = Path.Combine(dir.FullName, "gpt.json"), t = Path.Combine(dir.FullName, "tokenizer.json");
            if (!File.Exists(g) || !File.Exists(t)) return Fail($"--model-dir {dir.FullName}: expected gpt.json and tokenizer.json there");
            (name, gpt, tokenizer) = (dir.Name, GptConfig.Load(g), TokenizerConfig.Load(t));
        }
        else if (RandomModelPreset.Find(parse.GetValue(s_preset)!) is { } preset) (name, gpt, tokenizer) = (preset.Name, preset.Gpt, preset.Tokenizer);
        else return Fail($"--preset '{parse.GetValue(s_preset)}': expected one of {string.Join(", ", RandomModelPreset.All.Select(p => p.Name))}");
        int requests = parse.GetValue(s_requests);
        double budget = parse.GetValue(s_budget);
        if (requests < 1) return Fail($"--requests: need at least 1, got {requests}");
        if (!(budget > 0 && budget <= 120)) return Fail($"--budget: need seconds in (0, 120], got {budget}");
        if (!ModelPrecisions.TryParse(parse.GetValue(s_dtype)!, out var precision)) return Fail($"--dtype: expected auto, fp32, bf16 or fp16, got '{parse.GetValue(s_dtype)}'");
        if (parse.GetValue(s_threads) is { } threads)
        {
            if (threads < 1) return Fail($"--threads: need at least 1, got {threads}");
            TorchSharp.torch.set_num_threads(threads);
        }
        var m = RooflineMeasurement.Measure(gpt, tokenizer, requests, TimeSpan.FromSeconds(budget));
        string? fixedName = precision.ToScalarType() is { } t2 ? ModelPrecisions.ShortName(t2) : null;
        var floor = RooflineFloor.For(m, gpt, tokenizer, fixedName, fixedName);
        if (parse.GetValue(s_json)) Ui.Line(JsonSerializer.Serialize(new RooflineDocument(name, m, floor)));
        else Show(name, m, floor);
        return Task.FromResult(ExitCodes.Success);
    }

    private void Show(string name, RooflineMeasurement m, RooflineFloor f)
    {
        static string F(double v, string format = "0.0") => v.ToString(format, CultureInfo.InvariantCulture);
        Ui.Info($"{name}: {Environment.ProcessorCount} cores, torch threads {TorchSharp.torch.get_num_threads()}, measured in {F(m.Seconds)} s; load average {LoadAverage()}");
        var rows = new List<string[]>();
        foreach (var c in m.Gpt) rows.Add([$"GPT GEMM {c.DType}", $"{F(c.SingleGflops, "0")} GFLOP/s at 1 request, {F(c.SaturatedGflops, "0")} at {m.Requests}"]);
        foreach (var c in m.Decoder) rows.Add([$"decoder GEMM {c.DType}", $"{F(c.SingleGflops, "0")} GFLOP/s at 1 image, {F(c.SaturatedGflops, "0")} at 4"]);
        rows.Add(["weights streamed at M = 2", string.Join(", ", m.StreamingGbPerSecond.Select(kv => $"{kv.Key} {F(kv.Value)} GB/s"))]);
        rows.Add(["tensor copy (read + write)", $"{F(m.CopyGbPerSecond)} GB/s"]);
        rows.Add(["Auto would pick", $"GPT {m.AutoGpt}, decoder {m.AutoDecoder}"]);
        rows.Add(["floors computed for", $"GPT {f.GptDType}, decoder {f.DecoderDType}"]);
        rows.Add(["GPT per image", $"{F(f.GptGflopPerImage)} GFLOP over {f.Steps} steps, weights {F(f.GptWeightGb, "0.000")} GB read per step"]);
        rows.Add(["decode per image", $"{F(f.DecodeGflopPerImage)} GFLOP = {F(f.DecodeSeconds, "0.000")} s"]);
        rows.Add(["floor at 1 request", $"{F(f.SingleSeconds, "0.000")} s/image (weights {F(f.StreamSeconds, "0.000")} s, GEMM {F(f.GptGflopPerImage / f.SingleGflops, "0.000")} s, + decode)"]);
        rows.Add([$"floor at {f.Requests} requests", $"{F(f.SaturatedSecondsPerImage, "0.000")} s/image = {F(1 / f.SaturatedSecondsPerImage, "0.00")} images/s"]);
        Ui.Table(["roofline", "value"], rows);
    }

    private Task<int> Fail(string message)
    {
        Ui.Error(message);
        return Task.FromResult(ExitCodes.InvalidInput);
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
