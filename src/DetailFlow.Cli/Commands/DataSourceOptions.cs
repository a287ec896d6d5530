using System.CommandLine;
using DetailFlow.Training.Data;

namespace DetailFlow.Cli.Commands;

/// <summary>The data options the training commands share: an ImageNet-layout folder or an IDX image/label pair.</summary>
internal static class DataSourceOptions
{
    public static readonly Option<DirectoryInfo?> Data = new("--data") { Description = "ImageNet-layout folder (train/<class>/<image>); classes = sorted sub-folder names" };
    public static readonly Option<FileInfo?> IdxImages = new("--idx-images") { Description = "IDX images file (.gz or raw), e.g. Fashion-MNIST train-images-idx3-ubyte.gz" };
    public static readonly Option<FileInfo?> IdxLabels = new("--idx-labels") { Description = "IDX labels file matching --idx-images" };
    public static readonly Option<int?> IdxLimit = new("--idx-limit") { Description = "Use only the first N IDX items" };
    public static readonly Option<int> IdxPad = new("--idx-pad")
    {
        Description = "Pad IDX images evenly to a multiple of this many pixels (28 → 32 with 32)",
        DefaultValueFactory = _ => 32,
    };

    public static IEnumerable<Option> All => [Data, IdxImages, IdxLabels, IdxLimit, IdxPad];

    /// <summary>The source the options name, and whether it is an IDX set (already at training size: flip only).</summary>
    public static (ILabeledImageSource Source, bool IsIdx) Open(ParseResult parse)
    {
        var folder = parse.GetValue(Data);
        var images = parse.GetValue(IdxImages);
        var labels = parse.GetValue(IdxLabels);
        if (folder is not null && (images is not null || labels is not null))
            throw new ArgumentException("give either --data or --idx-images/--idx-labels, not both");
        if (folder is not null) return (new ImageFolderSource(folder.FullName), false);
        if (images is null || labels is null) throw new ArgumentException("no data: give --data FOLDER or both --idx-images and --idx-labels");
        return (IdxImageSource.Open(images.FullName, labels.FullName, parse.GetValue(IdxPad), parse.GetValue(IdxLimit)), true);
    }
}
