namespace DetailFlow.Api.Hosting;

/// <summary>
/// The embedded default model (<c>models/default</c> of the repository: a small tokenizer + class-conditional GPT trained
/// on Fashion-MNIST by <c>models/default/train.sh</c>). The build copies it next to the service binary, so with no
/// <c>ModelOptions:GptPath</c> / <c>TokenizerPath</c> the service serves it. Relative model paths are looked up in the
/// current directory first, then beside the binary.
/// </summary>
public static class DefaultModel
{
    public const string Folder = "models/default";
    public const string Gpt = Folder + "/gpt.safetensors";
    public const string Tokenizer = Folder + "/tokenizer.safetensors";
    public const string Labels = Folder + "/labels.txt";

    /// <summary>The guidance its class-consistency was measured at (<c>models/default/README.md</c>; 1.5 measures below target).</summary>
    public const double CfgScale = 2.5;

    /// <summary>Fills empty model paths with the default model and resolves relative paths (cwd, then the binary's folder).</summary>
    public static void Apply(ModelOptions o) => Apply(o, Directory.GetCurrentDirectory(), AppContext.BaseDirectory);

    internal static void Apply(ModelOptions o, string currentDirectory, string baseDirectory)
    {
        if (string.IsNullOrWhiteSpace(o.GptPath) && string.IsNullOrWhiteSpace(o.TokenizerPath))
        {
            o.GptPath = Gpt;
            o.TokenizerPath = Tokenizer;
            if (string.IsNullOrWhiteSpace(o.LabelsFile) && o.Labels.Length == 0) o.LabelsFile = Labels;
            o.CfgScale ??= CfgScale;
        }
        o.GptPath = Resolve(o.GptPath, currentDirectory, baseDirectory);
        o.TokenizerPath = Resolve(o.TokenizerPath, currentDirectory, baseDirectory);
        o.LabelsFile = Resolve(o.LabelsFile, currentDirectory, baseDirectory);
    }

    private static string Resolve(string path, string currentDirectory, string baseDirectory)
    {
        if (string.IsNullOrWhiteSpace(path) || Path.IsPathRooted(path)) return path;
        var fromCwd = Path.GetFullPath(path, currentDirectory);
        if (File.Exists(fromCwd)) return fromCwd;
        var fromBinary = Path.GetFullPath(path, baseDirectory);
        return File.Exists(fromBinary) ? fromBinary : path;
    }
}
