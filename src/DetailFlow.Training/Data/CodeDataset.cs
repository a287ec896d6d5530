using System.Text.Json;
using System.Text.Json.Nodes;
using DetailFlow.Core.Gpt;

namespace DetailFlow.Training.Data;

/// <summary>
/// Extracted tokenizer codes for AR training (spec §9.2): codes [M, A, N, K] (A augmentations per image — 10 for
/// ten-crop, 2 for flip — and K = 3 columns clean/input/label, or 1 without self-correction) and labels [M]. On disk
/// (written by <c>detailflow extract-codes</c>): <c>&lt;dataset&gt;&lt;size&gt;_codes.npy</c>,
/// <c>&lt;dataset&gt;&lt;size&gt;_labels.npy</c> and <c>&lt;dataset&gt;.json</c> (the tokenizer config plus
/// <c>ar_image_size</c> and <c>ar_token_num</c>, as the official script writes). One array per folder instead of the
/// official one .npy per image.
/// </summary>
public sealed class CodeDataset
{
    public CodeDataset(long[] codes, long[] labels, int augmentations, int tokens, int columns, JsonObject? info = null)
    {
        ArgumentNullException.ThrowIfNull(codes);
        ArgumentNullException.ThrowIfNull(labels);
        if (augmentations <= 0 || tokens <= 0 || columns is not (1 or 3))
            throw new ArgumentException($"invalid code layout [{labels.Length}, {augmentations}, {tokens}, {columns}] (columns must be 1 or 3)");
        if (codes.Length != (long)labels.Length * augmentations * tokens * columns)
            throw new InvalidDataException($"{codes.Length} codes do not fill [{labels.Length}, {augmentations}, {tokens}, {columns}]");
        if (labels.Length == 0) throw new InvalidDataException("the code set is empty");
        (Codes, Labels, Augmentations, Tokens, Columns, Info) = (codes, labels, augmentations, tokens, columns, info);
    }

    public long[] Codes { get; }
    public long[] Labels { get; }
    public int Count => Labels.Length;
    public int Augmentations { get; }
    public int Tokens { get; }
    public int Columns { get; }
    public JsonObject? Info { get; }

    public int ClassCount => (int)Labels.Max() + 1;

    /// <summary>Code (image i, augmentation a, token n, column c).</summary>
    public long At(int image, int augmentation, int token, int column) =>
        Codes[(((long)image * Augmentations + augmentation) * Tokens + token) * Columns + column];

    /// <summary>
    /// <paramref name="size"/> (layers, heads, width, dropouts) shaped for these codes as <c>train_c2i.py</c> does:
    /// vocabulary = <c>codebook_size</c>, block size = <c>ar_token_num</c>, group size and causal prefix of the tokenizer.
    /// </summary>
    public GptConfig ShapeGpt(GptConfig size)
    {
        ArgumentNullException.ThrowIfNull(size);
        var info = Info ?? throw new InvalidOperationException("code set has no tokenizer info (open it from an extract-codes folder)");
        int vocab = info["codebook_size"]?.GetValue<int>() ?? throw new InvalidDataException("code info has no codebook_size");
        int group = info["group_size"]?.GetValue<int>() ?? throw new InvalidDataException("code info has no group_size");
        int? causal = info["causal_num"]?.GetValue<int?>();
        if (ClassCount > size.NumClasses)
            throw new ArgumentException($"codes carry {ClassCount} classes, the GPT config has num_classes {size.NumClasses}", nameof(size));
        return (size with { VocabSize = vocab, BlockSize = Tokens, GroupSize = group, CausalNum = causal }).Validate();
    }

    public static string CodesFile(string dir, string dataset, int imageSize) => Path.Combine(dir, $"{dataset}{imageSize}_codes.npy");
    public static string LabelsFile(string dir, string dataset, int imageSize) => Path.Combine(dir, $"{dataset}{imageSize}_labels.npy");
    public static string InfoFile(string dir, string dataset) => Path.Combine(dir, $"{dataset}.json");

    /// <summary>Opens a folder written by <see cref="Save"/>; the image size and token count come from its json.</summary>
    public static CodeDataset Open(string dir, string dataset = "imagenet")
    {
        string infoPath = InfoFile(dir, dataset);
        if (!File.Exists(infoPath)) throw new FileNotFoundException($"code folder {dir} has no {dataset}.json (run extract-codes first)", infoPath);
        var info = JsonNode.Parse(File.ReadAllText(infoPath)) as JsonObject ?? throw new InvalidDataException($"{infoPath}: not a JSON object");
        int size = info["ar_image_size"]?.GetValue<int>() ?? throw new InvalidDataException($"{infoPath}: no ar_image_size");
        var (codes, shape) = NpyFile.ReadInt64(CodesFile(dir, dataset, size));
        var (labels, labelShape) = NpyFile.ReadInt64(LabelsFile(dir, dataset, size));
        if (shape.Length != 4 || labelShape.Length != 1 || shape[0] != labelShape[0])
            throw new InvalidDataException($"{dir}: codes [{string.Join(", ", shape)}] and labels [{string.Join(", ", labelShape)}] do not match ([M, A, N, K] and [M])");
        return new CodeDataset(codes, labels, (int)shape[1], (int)shape[2], (int)shape[3], info);
    }

    public void Save(string dir, string dataset, int imageSize, JsonObject info)
    {
        Directory.CreateDirectory(dir);
        NpyFile.WriteInt64(CodesFile(dir, dataset, imageSize), Codes, [Count, Augmentations, Tokens, Columns]);
        NpyFile.WriteInt64(LabelsFile(dir, dataset, imageSize), Labels, [Count]);
        File.WriteAllText(InfoFile(dir, dataset), info.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
