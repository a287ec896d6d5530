using System.Collections;
using System.Globalization;
using System.Text;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Training.Optim;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DetailFlow.Training.Checkpointing;

/// <summary>
/// Training checkpoints in the official layout (spec §4): <c>&lt;run&gt;/checkpoints/&lt;step:0000000&gt;.pt</c>, a
/// pickled dict <c>{"model": state_dict, "ema": state_dict, "optimizer": {…}, "steps": n, …}</c> that
/// <c>torch.load</c> reads, with <c>config.json</c> (official <c>ModelArgs</c> names) and <c>config.yaml</c> in the run
/// folder — two folders above the <c>.pt</c>, where <c>VqModel.Load</c>/<c>GptTransformer.Load</c> and the official
/// loaders look. Writes go to a temporary file first and are renamed, so a crash never leaves a half checkpoint.
/// </summary>
public static class TrainingCheckpoint
{
    public const string Folder = "checkpoints";

    public static string CheckpointDir(string runDir) => Path.Combine(runDir, Folder);

    public static string PathFor(string runDir, long step) =>
        Path.Combine(CheckpointDir(runDir), step.ToString("D7", CultureInfo.InvariantCulture) + ".pt");

    /// <summary>Saves <paramref name="entries"/> (module state dicts are converted) and prunes to the newest <paramref name="keepLast"/>.</summary>
    public static string Save(string runDir, long step, IReadOnlyDictionary<string, object> entries, int keepLast)
    {
        if (keepLast < 1) throw new ArgumentOutOfRangeException(nameof(keepLast), keepLast, "keep at least one checkpoint");
        Directory.CreateDirectory(CheckpointDir(runDir));
        var root = new Hashtable();
        foreach (var (key, value) in entries)
            root[key] = value is nn.Module m ? StateDict(m) : value;
        root["steps"] = step;
        string path = PathFor(runDir, step), tmp = path + ".tmp";
        using (var stream = File.Create(tmp)) PyTorchPickler.PickleStateDict(stream, root);
        File.Move(tmp, path, overwrite: true);
        foreach (var old in List(runDir).SkipLast(keepLast)) File.Delete(old);
        return path;
    }

    /// <summary>Checkpoints of a run, oldest first (by step number in the file name).</summary>
    public static IReadOnlyList<string> List(string runDir)
    {
        string dir = CheckpointDir(runDir);
        if (!Directory.Exists(dir)) return [];
        return Directory.GetFiles(dir, "*.pt")
            .Select(f => (File: f, Step: long.TryParse(Path.GetFileNameWithoutExtension(f), NumberStyles.None, CultureInfo.InvariantCulture, out long s) ? s : -1))
            .Where(x => x.Step >= 0).OrderBy(x => x.Step).Select(x => x.File).ToArray();
    }

    public static string? Latest(string runDir) => List(runDir).LastOrDefault();

    public static Hashtable Read(string path)
    {
        return PyTorchUnpickler.UnpickleStateDict(CheckpointReader.RequireFile(path));
    }

    public static long Steps(Hashtable checkpoint, string source) =>
        checkpoint["steps"] is { } s ? Convert.ToInt64(s, CultureInfo.InvariantCulture) : throw new InvalidDataException($"{source}: checkpoint has no 'steps'");

    /// <summary>Strictly loads the state dict under <paramref name="key"/> into <paramref name="module"/> (every key must match).</summary>
    public static void LoadModule(Hashtable checkpoint, string key, nn.Module module, string source)
    {
        if (checkpoint[key] is not Hashtable h) throw new InvalidDataException($"{source}: checkpoint has no '{key}' state dict");
        var sd = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in h)
            sd[e.Key.ToString()!] = e.Value as Tensor ?? throw new InvalidDataException($"{source}: '{key}.{e.Key}' is not a tensor");
        StateDictLoader.Load(module, sd, $"{source} [{key}]", _ => false);
    }

    /// <summary>Loads the optimizer state under <paramref name="key"/> into <paramref name="optimizer"/>.</summary>
    public static void LoadOptimizer(Hashtable checkpoint, string key, AdamW optimizer, string source) =>
        optimizer.LoadStateDict(checkpoint[key] as Hashtable ?? throw new InvalidDataException($"{source}: no {key} state"), source);

    /// <summary>
    /// Restores a run from <paramref name="path"/>: model, EMA (when the run has one), optimizer state, then whatever
    /// <paramref name="more"/> reads from the same checkpoint; returns its step. The checkpoint's tensors are disposed after.
    /// </summary>
    public static long Restore(string path, nn.Module model, nn.Module? ema, AdamW optimizer, Action<Hashtable>? more = null)
    {
        var checkpoint = Read(path);
        try
        {
            LoadModule(checkpoint, "model", model, path);
            if (ema is not null) LoadModule(checkpoint, "ema", ema, path);
            LoadOptimizer(checkpoint, "optimizer", optimizer, path);
            more?.Invoke(checkpoint);
            return Steps(checkpoint, path);
        }
        finally
        {
            Dispose(checkpoint);
        }
    }

    public static void Dispose(Hashtable checkpoint)
    {
        foreach (var v in checkpoint.Values)
        {
            if (v is Tensor t) t.Dispose();
            else if (v is Hashtable h) Dispose(h);
        }
    }

    /// <summary>Writes <c>config.json</c> (via <see cref="ConfigJson"/>) and a flat <c>config.yaml</c> into the run folder.</summary>
    public static void WriteConfigs<T>(string runDir, T modelConfig, IEnumerable<KeyValuePair<string, string>> yaml)
    {
        Directory.CreateDirectory(runDir);
        ConfigJson.Write(Path.Combine(runDir, "config.json"), modelConfig);
        var sb = new StringBuilder();
        foreach (var (k, v) in yaml) sb.Append(k).Append(": ").Append(v).Append('\n');
        File.WriteAllText(Path.Combine(runDir, "config.yaml"), sb.ToString());
    }

    private static Hashtable StateDict(nn.Module module)
    {
        var h = new Hashtable();
        foreach (var (k, v) in module.state_dict()) h[k] = v.contiguous();
        return h;
    }
}
