using System.Text.Json;
using System.Text.Json.Nodes;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Data;
using DetailFlow.Training.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Gpt;

/// <summary>How <see cref="CodeExtractor"/> augments each image (official <c>extract_codes_c2i.py</c>).</summary>
public sealed record CodeExtractionOptions
{
    /// <summary><c>--ten-crop</c>: centre crop to ⌊size·CropRange⌋, then TenCrop(size) (10 codes per image); else centre crop + its flip (2).</summary>
    public bool TenCrop { get; init; }
    public double CropRange { get; init; } = 1.1;
    public int Seed { get; init; }
    public string Dataset { get; init; } = "imagenet";
}

/// <summary>
/// Code extraction for AR training (spec §9.2): per image the crops of <see cref="CodeExtractionOptions"/>, one
/// self-correction noise index per image (t = N, probability 1, shared by its crops) when the tokenizer has
/// <c>correction_training</c>, encoded in one call → codes [A, N, 3] (clean, input, label), or [A, N, 1] without
/// self-correction. Unreadable images are skipped and reported. The noisy code draws of image i come from a
/// generator seeded by (seed, i), so extraction is reproducible.
/// </summary>
public static class CodeExtractor
{
    public sealed record Result(CodeDataset Codes, JsonObject Info, IReadOnlyList<SkippedImage> Skipped);

    public static Result Extract(VqModel model, ILabeledImageSource source, CodeExtractionOptions options,
        Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        if (options.CropRange < 1) throw new ArgumentOutOfRangeException(nameof(options), options.CropRange, "crop range must be at least 1");
        var config = model.Config;
        int size = config.ImageSize, n = config.NumLatentTokens;
        var degradation = new ResolutionDegradation(ResolutionSchedule.For(config));
        bool correction = config.CorrectionTraining;
        int augmentations = options.TenCrop ? 10 : 2, columns = correction ? 3 : 1;
        var codes = new List<long>(source.Count * augmentations * n * columns);
        var labels = new List<long>(source.Count);
        var skipped = new List<SkippedImage>();
        bool wasTraining = model.training;
        model.eval();
        model.ClearCaches();
        try
        {
            using var noGrad = torch.no_grad();
            for (int i = 0; i < source.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var image = source.TryLoad(i, out string? error);
                if (image is null)
                {
                    skipped.Add(new SkippedImage(i, source.Describe(i), error ?? "unreadable"));
                    continue;
                }
                var crops = Crops(image, size, options);
                using var scope = torch.NewDisposeScope();
                var pixels = new float[crops.Length * 3 * size * size];
                for (int c = 0; c < crops.Length; c++)
                    ImageTransforms.ToNormalizedChw(crops[c], pixels.AsSpan(c * 3 * size * size, 3 * size * size));
                var batch = tensor(pixels, [crops.Length, 3, size, size], device: model.Device);
                var rng = new Random(Seeds.Mix(options.Seed, i, 6));
                int? noise = correction ? degradation.NoiseIndex(n, rng) : null;
                using var generator = new Generator((ulong)Seeds.Mix(options.Seed, i, 7));
                var enc = model.EncodeWithCorrection(batch, n, noise, generator);
                var triplet = correction ? enc.IndexTriplet() : enc.CleanIndices.unsqueeze(-1); // [A, N, K]
                codes.AddRange(triplet.cpu().data<long>().ToArray());
                labels.Add(source.LabelOf(i));
                progress?.Invoke(i + 1, source.Count);
            }
        }
        finally
        {
            model.ClearCaches();
            if (wasTraining) model.train();
        }
        var info = JsonSerializer.SerializeToNode(config, ConfigJson.Options)!.AsObject();
        info["ar_image_size"] = size;
        info["ar_token_num"] = n;
        info["ten_crop"] = options.TenCrop;
        info["class_names"] = new JsonArray(source.ClassNames.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray());
        var dataset = new CodeDataset(codes.ToArray(), labels.ToArray(), augmentations, n, columns, info);
        return new Result(dataset, info, skipped);
    }

    private static RgbImage[] Crops(RgbImage image, int size, CodeExtractionOptions options)
    {
        if (options.TenCrop) return ImageTransforms.TenCrop(ImageTransforms.CenterCropArr(image, (int)(size * options.CropRange)), size);
        var centre = ImageTransforms.CenterCropArr(image, size);
        return [centre, ImageTransforms.FlipHorizontal(centre)];
    }
}
