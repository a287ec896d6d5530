using DetailFlow.Core.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation.Inception;

/// <summary>
/// FID/IS features from the standard FID Inception-v3: pool3 (2048-d) for FID statistics and the 1008-class
/// <c>logits_unbiased</c> for the Inception Score, after <see cref="InceptionPreprocessing"/>.
/// </summary>
public sealed class InceptionFeatureExtractor : IFeatureExtractor
{
    /// <summary>The file name pytorch-fid and torch-fidelity download (the same bytes; sha256 prefix 6726825d).</summary>
    public const string WeightsFileName = "pt_inception-2015-12-05-6726825d.pth";

    /// <summary>Where the weights come from (pytorch-fid's GitHub release; torch-fidelity publishes the same file).</summary>
    public const string WeightsUrl = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth";

    private readonly FidInceptionV3 _network;

    public InceptionFeatureExtractor(FidInceptionV3 network, InceptionResize resize, Device? device = null)
    {
        _network = network;
        Resize = resize;
        Device = device ?? CPU;
        _network.to(Device);
        _network.eval();
    }

    public InceptionResize Resize { get; }
    public Device Device { get; }
    public string Name => $"FID Inception-v3 pool3 ({Resize} preprocessing)";
    public int FeatureDim => FidInceptionV3.FeatureDim;

    /// <summary>
    /// Loads the weights (the original <c>.pth</c> or a <c>convert-inception</c> safetensors) strictly, key for key.
    /// A missing file → <see cref="FileNotFoundException"/> naming the file to provide and where it comes from.
    /// </summary>
    public static InceptionFeatureExtractor Load(string path, InceptionResize resize = InceptionResize.TorchFidelity, Device? device = null)
    {
        var network = LoadNetwork(path);
        return new InceptionFeatureExtractor(network, resize, device);
    }

    /// <summary>The FID Inception with the weights of <paramref name="path"/> (.pth or .safetensors), strictly loaded.</summary>
    public static FidInceptionV3 LoadNetwork(string path)
    {
        if (!File.Exists(path)) throw MissingWeights(path);
        var weights = CheckpointReader.Read(path, CheckpointEntry.Model);
        var network = new FidInceptionV3();
        try
        {
            // BatchNorm's step counter is not in the 2015 weights and plays no part in evaluation.
            StateDictLoader.Load(network, weights, path, key => key.EndsWith(".num_batches_tracked", StringComparison.Ordinal));
        }
        catch
        {
            network.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
        network.eval();
        return network;
    }

    public static FileNotFoundException MissingWeights(string path) => new(
        $"FID Inception weights not found: {path}. Provide the file {WeightsFileName} (download it from {WeightsUrl}, " +
        $"the weights pytorch-fid and torch-fidelity use) and pass it with --inception; see docs/evaluation.md.", path);

    public (Tensor Features, Tensor Logits) Extract(Tensor images)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = InceptionPreprocessing.Apply(images.to(Device), Resize);
        var pool = _network.forward(x);
        var logits = _network.LogitsUnbiased(pool);
        return (pool.to(float64).cpu().MoveToOuterDisposeScope(), logits.to(float64).cpu().MoveToOuterDisposeScope());
    }

    public void Dispose() => _network.Dispose();
}
