using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Data;
using DetailFlow.Training.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow eval-default</c>: measures a Fashion-MNIST model (default: <c>models/default</c>). Trains a small CNN
/// (<see cref="FashionClassifier"/>, seeded, deterministic on one thread) on the real training images and reports its
/// accuracy on the real test set; generates <c>--per-class</c> images per class and reports the classifier's accuracy
/// on them (class-consistency); the tokenizer's reconstruction PSNR on the test set (all N tokens); and the FID between
/// generated and real test images in the classifier's penultimate (128-d) features.
/// </summary>
public sealed class EvalDefaultCommand : BaseCommand
{
    private static readonly Option<FileInfo> s_gpt = new("--gpt") { Description = "GPT (converted safetensors or a train-ar .pt)", DefaultValueFactory = _ => new FileInfo("models/default/gpt.safetensors") };
    private static readonly Option<FileInfo> s_tokenizer = new("--tokenizer") { Description = "Tokenizer (converted safetensors or .pt)", DefaultValueFactory = _ => new FileInfo("models/default/tokenizer.safetensors") };
    private static readonly Option<DirectoryInfo> s_data = new("--fashion-mnist") { Description = "Folder with the four Fashion-MNIST IDX .gz files", DefaultValueFactory = _ => new DirectoryInfo("/usr/share/datasets/fashion-mnist") };
    private static readonly Option<int> s_perClass = new("--per-class") { Description = "Generated images per class", DefaultValueFactory = _ => 100 };
    private static readonly Option<double> s_cfg = new("--cfg") { Description = "Classifier-free guidance scale (2.5: the default model's evaluation setting)", DefaultValueFactory = _ => 2.5 };
    private static readonly Option<double> s_temperature = new("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => 1.0 };
    private static readonly Option<int?> s_topK = new("--top-k") { Description = "Keep the k most likely codes (default: all)" };
    private static readonly Option<long> s_seed = new("--seed") { Description = "Seed of generated image i is seed + i; the classifier is seeded with it too", DefaultValueFactory = _ => 0 };
    private static readonly Option<int> s_epochs = new("--classifier-epochs") { Description = "Classifier training epochs on the 60,000 real training images", DefaultValueFactory = _ => 2 };
    private static readonly Option<FileInfo?> s_classifier = new("--classifier") { Description = "Classifier weights cache: loaded when the file exists, otherwise trained (seeded) and saved there", DefaultValueFactory = _ => new FileInfo("runs/default/classifier.bin") };
    private static readonly Option<FileInfo?> s_json = new("--json") { Description = "Also write the numbers to this JSON file" };
    private static readonly Option<string> s_dtype = new("--dtype") { Description = "Weight precision of the GPT and the tokenizer: fp32, bf16, fp16 (reduced-precision quality check)", DefaultValueFactory = _ => "fp32" };

    public EvalDefaultCommand(IConsoleUi ui) : base("eval-default", "Measure a Fashion-MNIST model: classifier accuracy (real test / generated), reconstruction PSNR, FID", ui)
    {
        foreach (var o in new Option[] { s_gpt, s_tokenizer, s_data, s_perClass, s_cfg, s_temperature, s_topK, s_seed, s_epochs, s_classifier, s_json, s_dtype })
            Options.Add(o);
        foreach (var o in DecoderBackendOptions.All) Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        if (!ModelPrecisions.TryParse(parse.GetValue(s_dtype)!, out var precision) || precision.ToScalarType() is not { } dtype)
        {
            Ui.Error($"--dtype: expected fp32, bf16 or fp16, got '{parse.GetValue(s_dtype)}'");
            return Task.FromResult(ExitCodes.InvalidInput);
        }
        string data = parse.GetValue(s_data)!.FullName;
        long seed = parse.GetValue(s_seed);
        int perClass = parse.GetValue(s_perClass);
        var started = DateTime.UtcNow;

        var (trainX, trainY) = LoadGrey(Path.Combine(data, "train-images-idx3-ubyte.gz"), Path.Combine(data, "train-labels-idx1-ubyte.gz"));
        var (testX, testY) = LoadGrey(Path.Combine(data, "t10k-images-idx3-ubyte.gz"), Path.Combine(data, "t10k-labels-idx1-ubyte.gz"));
        torch.manual_seed(seed); // the classifier's initial weights
        var (classifier, trained) = LoadOrTrainClassifier(parse, trainX, trainY, (int)seed, cancellationToken);
        using var _ = classifier;
        var (testPred, realFeatures) = classifier.Predict(testX);
        var testLabels = testY.data<long>().ToArray();
        double realAccuracy = Accuracy(testPred, testLabels);
        Ui.Info($"classifier: {trained}; accuracy on the real test set {realAccuracy:F4}");

        using var vq = VqModel.Load(parse.GetValue(s_tokenizer)!.FullName, dtype: dtype);
        vq.eval();
        using var decoder = DecoderBackendOptions.Create(parse, vq);   // every decode below (reconstructions and samples) goes through it
        var recon = MeasureReconstructions(vq, decoder, classifier, testX, testLabels, realFeatures);

        using var gpt = GptTransformer.Load(parse.GetValue(s_gpt)!.FullName, dtype: dtype);
        var rows = Enumerable.Range(0, gpt.Config.NumClasses).SelectMany(c => Enumerable.Repeat((long)c, perClass)).ToArray();
        using var genX = GenerateImages(parse, gpt, vq, decoder, rows, seed, cancellationToken);
        var (genPred, genFeatures) = classifier.Predict(genX);
        double genAccuracy = Accuracy(genPred, rows);
        var perClassAccuracy = Enumerable.Range(0, gpt.Config.NumClasses).Select(c => Enumerable.Range(c * perClass, perClass).Count(i => genPred[i] == c) / (double)perClass).ToArray();
        double fid = FeatureStatistics.Fid(genFeatures, realFeatures);
        // Reference point: FID of the real training images' first len(rows) against the test set (sample-size floor).
        var (_, trainFeatures) = classifier.Predict(trainX.narrow(0, 0, rows.Length));
        double fidFloor = FeatureStatistics.Fid(trainFeatures, realFeatures);

        var names = IdxImageSource.FashionMnistClasses;
        Ui.Table(["class", "class-consistency"], perClassAccuracy.Select((a, c) => new[] { c < names.Count ? names[c] : c.ToString(CultureInfo.InvariantCulture), a.ToString("F2", CultureInfo.InvariantCulture) }));
        double ratio = genAccuracy / realAccuracy;
        Ui.Line($"weights: {ModelPrecisions.ShortName(dtype)}");
        Ui.Line($"classifier accuracy: real test {realAccuracy:F4}; generated ({rows.Length} images, {perClass}/class, cfg {parse.GetValue(s_cfg)}, temperature {parse.GetValue(s_temperature)}) {genAccuracy:F4} = {ratio:F3} × real (target ≥ 0.8)");
        Ui.Line($"reconstruction PSNR (test set): {recon.Psnr:F2} dB; classifier accuracy on the reconstructions {recon.Accuracy:F4}, their FID vs real test {recon.Fid:F3}");
        Ui.Line($"FID (classifier features, generated vs real test): {fid:F3}; real train ({rows.Length}) vs real test: {fidFloor:F3}");
        Ui.Line($"time {(DateTime.UtcNow - started).TotalSeconds:F0} s");
        if (parse.GetValue(s_json) is { } json)
            File.WriteAllText(json.FullName, JsonSerializer.Serialize(new
            {
                real_test_accuracy = realAccuracy, generated_accuracy = genAccuracy, ratio, per_class = perClassAccuracy,
                psnr_db = recon.Psnr, reconstruction_accuracy = recon.Accuracy, reconstruction_fid = recon.Fid, fid, fid_real_train_vs_test = fidFloor, generated = rows.Length,
                cfg = parse.GetValue(s_cfg), temperature = parse.GetValue(s_temperature), seed, dtype = ModelPrecisions.ShortName(dtype),
            }, new JsonSerializerOptions { WriteIndented = true }));
        trainX.Dispose(); trainY.Dispose(); testX.Dispose(); testY.Dispose(); realFeatures.Dispose(); genFeatures.Dispose(); trainFeatures.Dispose();
        return Task.FromResult(ratio >= 0.8 ? ExitCodes.Success : 1);
    }

    private static double Accuracy(IReadOnlyList<long> predicted, IReadOnlyList<long> labels) =>
        predicted.Zip(labels).Count(p => p.First == p.Second) / (double)labels.Count;

    /// <summary>
    /// The classifier from its weights cache when the file exists, otherwise trained (seeded) and saved there; with how
    /// it was obtained, for the log.
    /// </summary>
    private (FashionClassifier Classifier, string How) LoadOrTrainClassifier(ParseResult parse, Tensor trainX, Tensor trainY, int seed, CancellationToken cancellationToken)
    {
        var classifier = new FashionClassifier();
        int epochs = parse.GetValue(s_epochs);
        var cache = parse.GetValue(s_classifier);
        if (cache is { Exists: true })
        {
            classifier.load(cache.FullName);
            classifier.eval();
            Ui.Info($"classifier weights from {cache.FullName}");
            return (classifier, "cached");
        }
        double lastLoss = Ui.Progress("classifier", epochs * (trainX.shape[0] / 128), 100, report =>
            classifier.Train(trainX, trainY, epochs, seed, (s, _, l) => report(s, $"loss {l:F4}"), cancellationToken));
        if (cache is not null)
        {
            cache.Directory?.Create();
            classifier.save(cache.FullName);
        }
        return (classifier, $"{epochs} epochs, final loss {lastLoss:F4}");
    }

    private readonly record struct Reconstruction(double Psnr, double Accuracy, double Fid);

    /// <summary>Encodes and decodes the test set (all N tokens): PSNR, and the classifier's accuracy and FID on the result.</summary>
    private Reconstruction MeasureReconstructions(VqModel vq, IDecoderBackend decoder, FashionClassifier classifier, Tensor testX, long[] testLabels, Tensor realFeatures)
    {
        int size = vq.Config.ImageSize, n = vq.NumLatentTokens;
        var psnr = new List<double>();
        var reconstructions = new List<Tensor>();
        using (no_grad())
            for (long i = 0; i < testX.shape[0]; i += 250)
            {
                using var scope = NewDisposeScope();
                var x = testX.narrow(0, i, Math.Min(250, testX.shape[0] - i)).expand(-1, 3, -1, -1).contiguous();
                var (codesOfX, _) = vq.Encode(x, n);
                var r = decoder.Decode(codesOfX, n, size);
                psnr.AddRange(ImageMetrics.Psnr(x, r));
                reconstructions.Add(r.clamp(-1, 1).to(float32).MoveToOuterDisposeScope());
            }
        using var reconX = cat(reconstructions, 0);
        foreach (var r in reconstructions) r.Dispose();
        var (reconPred, reconFeatures) = classifier.Predict(reconX);
        double fid = FeatureStatistics.Fid(reconFeatures, realFeatures);
        reconFeatures.Dispose();
        Ui.Info($"tokenizer: reconstruction PSNR on the {psnr.Count} test images (N = {n} tokens) {psnr.Average():F2} dB");
        return new Reconstruction(psnr.Average(), Accuracy(reconPred, testLabels), fid);
    }

    /// <summary>One image per row (class i, seed + i), generated with the engine and decoded: [rows, 1|3, H, W] float32.</summary>
    private Tensor GenerateImages(ParseResult parse, GptTransformer gpt, VqModel vq, IDecoderBackend decoder, long[] rows, long seed, CancellationToken cancellationToken)
    {
        int size = vq.Config.ImageSize, n = vq.NumLatentTokens;
        var options = rows.Select((_, i) => new SamplingOptions
        {
            CfgScale = parse.GetValue(s_cfg), Temperature = parse.GetValue(s_temperature), TopK = parse.GetValue(s_topK), Seed = seed + i,
        }).ToArray();
        const int chunk = 100;
        var codes = Ui.Progress("generate", rows.Length, chunk, report =>
        {
            var all = new List<long[]>();
            for (int i = 0; i < rows.Length; i += chunk)
            {
                int len = Math.Min(chunk, rows.Length - i);
                all.AddRange(EngineGeneration.Generate(gpt, rows[i..(i + len)], options[i..(i + len)], cancellationToken));
                report(i + len, "");
            }
            return all;
        });
        var generated = new List<Tensor>();
        for (int i = 0; i < codes.Count; i += 250)
        {
            using var scope = NewDisposeScope();
            var c = tensor(codes.Skip(i).Take(250).SelectMany(r => r).ToArray(), [Math.Min(250, codes.Count - i), n]);
            generated.Add(decoder.Decode(c, n, size).clamp(-1, 1).to(float32).MoveToOuterDisposeScope());
        }
        var images = cat(generated, 0);
        foreach (var g in generated) g.Dispose();
        return images;
    }

    /// <summary>IDX images padded to 32×32 as grey [M, 1, 32, 32] in [−1, 1] and labels [M].</summary>
    private static (Tensor Images, Tensor Labels) LoadGrey(string images, string labels)
    {
        var source = IdxImageSource.Open(images, labels, 32);
        int h = source.Height, w = source.Width, plane = h * w;
        var pixels = new float[source.Count * plane];
        var y = new long[source.Count];
        for (int i = 0; i < source.Count; i++)
        {
            var img = source.TryLoad(i, out _) ?? throw new InvalidDataException($"{images}: item {i} unreadable");
            for (int p = 0; p < plane; p++) pixels[i * plane + p] = img.Pixels[3 * p] / 127.5f - 1f;
            y[i] = source.LabelOf(i);
        }
        return (tensor(pixels, [source.Count, 1, h, w]), tensor(y));
    }
}
