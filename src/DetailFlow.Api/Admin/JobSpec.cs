using System.Text.Json.Serialization;

namespace DetailFlow.Api.Admin;

/// <summary>
/// What to train (the body of <c>POST /admin/jobs</c>, or its <c>spec</c> form field next to an uploaded archive).
/// <c>kind</c> <c>tokenizer</c> trains a tokenizer on the images; <c>ar</c> encodes them with <c>base_tokenizer</c> and
/// trains the class-conditional GPT (from <c>base_gpt</c> when given). The dataset is an uploaded archive, a folder on
/// the server (<c>&lt;class&gt;/&lt;image&gt;</c>) or an IDX image/label pair.
/// </summary>
public sealed record JobSpec
{
    [JsonPropertyName("kind")] public string? Kind { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("dataset_path")] public string? DatasetPath { get; init; }
    [JsonPropertyName("idx_images")] public string? IdxImages { get; init; }
    [JsonPropertyName("idx_labels")] public string? IdxLabels { get; init; }
    [JsonPropertyName("idx_limit")] public int? IdxLimit { get; init; }
    [JsonPropertyName("base_gpt")] public string? BaseGpt { get; init; }
    [JsonPropertyName("base_tokenizer")] public string? BaseTokenizer { get; init; }
    [JsonPropertyName("steps")] public long? Steps { get; init; }
    [JsonPropertyName("batch_size")] public int? BatchSize { get; init; }
    [JsonPropertyName("lr")] public double? Lr { get; init; }
    [JsonPropertyName("seed")] public int? Seed { get; init; }
    [JsonPropertyName("checkpoint_every")] public long? CheckpointEvery { get; init; }
    [JsonPropertyName("keep_last")] public int? KeepLast { get; init; }
    [JsonPropertyName("ema")] public bool? Ema { get; init; }
    [JsonPropertyName("warmup")] public double? Warmup { get; init; }

    /// <summary>Set by the service when the dataset came as an upload (never accepted from the client).</summary>
    [JsonPropertyName("uploaded")] public bool Uploaded { get; init; }

    public const string Tokenizer = "tokenizer", Ar = "ar";

    /// <summary>Checks every field; returns the spec with defaults filled, or the errors keyed by field name.</summary>
    public (JobSpec? Spec, Dictionary<string, string[]> Errors) Validate(bool hasUpload, AdminOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        void Error(string field, string message) => errors[field] = [message];
        if (Kind is not (Tokenizer or Ar)) Error("kind", $"kind = '{Kind}': expected 'tokenizer' or 'ar'");
        if (string.IsNullOrWhiteSpace(Name)) Error("name", "a name is required");
        else if (Name.Length > 100 || Name.Any(char.IsControl)) Error("name", "name must be at most 100 printable characters");
        int sources = (hasUpload ? 1 : 0) + (DatasetPath is not null ? 1 : 0) + (IdxImages is not null || IdxLabels is not null ? 1 : 0);
        if (Uploaded) Error("uploaded", "uploaded is set by the service");
        if (sources == 0) Error("dataset_path", "a dataset is required: upload an archive, or give dataset_path, or idx_images + idx_labels");
        else if (sources > 1) Error("dataset_path", "give exactly one dataset: an uploaded archive, dataset_path, or idx_images + idx_labels");
        else if (DatasetPath is not null) { if (!Directory.Exists(DatasetPath)) Error("dataset_path", $"dataset_path = '{DatasetPath}': folder not found"); }
        else if (!hasUpload)
        {
            if (IdxImages is null || !File.Exists(IdxImages)) Error("idx_images", $"idx_images = '{IdxImages}': file not found");
            if (IdxLabels is null || !File.Exists(IdxLabels)) Error("idx_labels", $"idx_labels = '{IdxLabels}': file not found");
        }
        if (IdxLimit is <= 0) Error("idx_limit", "idx_limit must be positive");
        if (BaseGpt is not null && !File.Exists(BaseGpt)) Error("base_gpt", $"base_gpt = '{BaseGpt}': file not found");
        if (BaseTokenizer is not null && !File.Exists(BaseTokenizer)) Error("base_tokenizer", $"base_tokenizer = '{BaseTokenizer}': file not found");
        if (Kind == Ar && BaseTokenizer is null) Error("base_tokenizer", "an ar job needs base_tokenizer (the tokenizer whose codes the GPT learns)");
        if (Kind == Tokenizer && BaseGpt is not null) Error("base_gpt", "a tokenizer job takes no base_gpt");
        long steps = Steps ?? 1000;
        if (steps < 1 || steps > options.MaxSteps) Error("steps", $"steps = {steps}: must be in 1..{options.MaxSteps}");
        int batch = BatchSize ?? 32;
        if (batch is < 1 or > 4096) Error("batch_size", $"batch_size = {batch}: must be in 1..4096");
        double lr = Lr ?? 1e-4;
        if (!(lr > 0 && lr <= 1)) Error("lr", $"lr = {lr}: must be in (0, 1]");
        long every = CheckpointEvery ?? Math.Max(1, Math.Min(500, steps / 10));
        if (every < 1) Error("checkpoint_every", $"checkpoint_every = {every}: must be positive");
        int keep = KeepLast ?? 3;
        if (keep < 1) Error("keep_last", $"keep_last = {keep}: must be positive");
        double warmup = Warmup ?? (Kind == Ar ? 0.05 : 0);
        if (!(warmup >= 0 && warmup < 1)) Error("warmup", $"warmup = {warmup}: the share of warm-up steps must be in [0, 1)");
        if (errors.Count > 0) return (null, errors);
        return (this with
        {
            Name = Name!.Trim(), Steps = steps, BatchSize = batch, Lr = lr, Seed = Seed ?? 0, CheckpointEvery = every, KeepLast = keep,
            Ema = Ema ?? false, Warmup = warmup, Uploaded = hasUpload,
            DatasetPath = DatasetPath is null ? null : Path.GetFullPath(DatasetPath),
            BaseGpt = BaseGpt is null ? null : Path.GetFullPath(BaseGpt),
            BaseTokenizer = BaseTokenizer is null ? null : Path.GetFullPath(BaseTokenizer),
        }, errors);
    }
}
