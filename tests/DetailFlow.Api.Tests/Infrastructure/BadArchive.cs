using System.Formats.Tar;
using System.IO.Compression;

namespace DetailFlow.Api.Tests;

/// <summary>Archives the upload checks must refuse: each holds one valid image plus one offending entry (or is too big).</summary>
public static class BadArchive
{
    public static byte[] Build(string kind, string absolutePath)
    {
        byte[] png = File.ReadAllBytes(Directory.EnumerateFiles(FashionSlice.Folder, "*.png", SearchOption.AllDirectories).First());
        using var ms = new MemoryStream();
        if (kind == "symlink")
        {
            using (var tar = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "0/ok.png") { DataStream = new MemoryStream(png) });
                tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "0/link.png") { LinkName = "/etc/passwd" });
            }
            return ms.ToArray();
        }
        if (kind == "garbage") return "this is neither a zip nor a tar archive, just text that goes on"u8.ToArray().Concat(new byte[600]).ToArray();
        if (kind == "oversized")
        {
            var noise = new byte[AdminFactory.UploadLimit + 100_000];
            new Random(1).NextBytes(noise);
            return noise;
        }
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, "0/ok.png", png);
            switch (kind)
            {
                case "traversal": Add(zip, "../x.png", png); break;
                case "deep-traversal": Add(zip, "0/../../../x.png", png); break;
                case "absolute": Add(zip, absolutePath, png); break;
                case "text-file": Add(zip, "0/readme.txt", "not an image"u8.ToArray()); break;
                case "fake-png": Add(zip, "0/fake.png", "\x89PNG but not really"u8.ToArray()); break;
                default: throw new ArgumentException(kind);
            }
        }
        return ms.ToArray();
    }

    private static void Add(ZipArchive zip, string name, byte[] data)
    {
        using var stream = zip.CreateEntry(name).Open();
        stream.Write(data);
    }
}
