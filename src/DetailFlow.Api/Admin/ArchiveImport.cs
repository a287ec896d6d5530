using System.Formats.Tar;
using System.IO.Compression;
using DetailFlow.Training.Data;
using SkiaSharp;

namespace DetailFlow.Api.Admin;

/// <summary>An uploaded archive was refused; <see cref="Status"/> is the HTTP status (400, 413 or 422).</summary>
public sealed class ArchiveRejectedException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// Unpacks an uploaded dataset archive (<c>.zip</c>, <c>.tar</c>, <c>.tar.gz</c>) into a job folder as
/// <c>&lt;class&gt;/&lt;image&gt;</c>: entry names that are absolute or climb out (<c>../x</c>), links and device entries are
/// refused before anything is written outside the destination; the total size and the image count are capped; every
/// file must be an image that SkiaSharp decodes. On any refusal the destination is deleted, so nothing is left behind.
/// </summary>
public static class ArchiveImport
{
    public sealed record Result(string Root, int Images, IReadOnlyList<string> Classes);

    public static Result Extract(Stream archive, string destination, AdminOptions limits, CancellationToken ct)
    {
        try
        {
            Directory.CreateDirectory(destination);
            if (archive.CanSeek && archive.Length > limits.MaxUploadBytes)
                throw new ArchiveRejectedException(413, $"archive: {archive.Length} bytes, larger than the limit of {limits.MaxUploadBytes} bytes");
            var buffered = archive.CanSeek ? archive : Buffer(archive, destination + ".upload", limits.MaxUploadBytes, ct);
            using (archive.CanSeek ? null : buffered)
            {
                if (IsZip(buffered)) ExtractZip(buffered, destination, limits, ct);
                else if (!IsGzip(buffered) && !IsTar(buffered))
                    throw new ArchiveRejectedException(400, "archive: not a readable zip or tar archive (.zip, .tar, .tar.gz)");
                else ExtractTar(IsGzip(buffered) ? new GZipStream(buffered, CompressionMode.Decompress, leaveOpen: true) : buffered, destination, limits, ct);
            }
            return Check(destination, limits, ct);
        }
        catch
        {
            if (Directory.Exists(destination)) Directory.Delete(destination, recursive: true);
            throw;
        }
    }

    /// <summary>Copies a forward-only upload to <paramref name="path"/> (in the job folder; deleted on close), at most <paramref name="max"/> bytes.</summary>
    private static Stream Buffer(Stream archive, string path, long max, CancellationToken ct)
    {
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose);
        var buffer = new byte[81920];
        long total = 0;
        int n;
        while ((n = archive.Read(buffer)) > 0)
        {
            ct.ThrowIfCancellationRequested();
            total += n;
            if (total > max) { file.Dispose(); throw new ArchiveRejectedException(413, $"archive: larger than the limit of {max} bytes"); }
            file.Write(buffer, 0, n);
        }
        file.Position = 0;
        return file;
    }

    private static bool IsZip(Stream s) => Peek(s, 4) is [0x50, 0x4B, 0x03 or 0x05, 0x04 or 0x06];
    private static bool IsGzip(Stream s) => Peek(s, 2) is [0x1F, 0x8B];
    private static bool IsTar(Stream s) => Peek(s, 262) is { Length: 262 } head && head.AsSpan(257, 5).SequenceEqual("ustar"u8);   // POSIX/GNU magic

    private static byte[] Peek(Stream s, int n)
    {
        var head = new byte[n];
        int read = s.ReadAtLeast(head, n, throwOnEndOfStream: false);
        s.Position = 0;
        return head[..read];
    }

    private static void ExtractZip(Stream stream, string destination, AdminOptions limits, CancellationToken ct)
    {
        ZipArchive zip;
        try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
        catch (InvalidDataException e) { throw new ArchiveRejectedException(400, $"archive: not a readable zip ({e.Message})"); }
        using (zip)
        {
            long total = 0;
            foreach (var entry in zip.Entries)   // every name is checked before anything is written
            {
                Target(destination, entry.FullName);
                int unixType = (entry.ExternalAttributes >> 16) & 0xF000;
                if (unixType == 0xA000) throw new ArchiveRejectedException(400, $"archive: '{entry.FullName}' is a symbolic link");
                total += entry.Length;
                if (total > limits.MaxExtractedBytes) throw new ArchiveRejectedException(413, $"archive: more than {limits.MaxExtractedBytes} bytes when extracted");
            }
            foreach (var entry in zip.Entries)
            {
                ct.ThrowIfCancellationRequested();
                string target = Target(destination, entry.FullName);
                if (entry.FullName.EndsWith('/')) { Directory.CreateDirectory(target); continue; }
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var input = entry.Open();
                using var output = File.Create(target);
                Copy(input, output, entry.Length + 1, entry.FullName);
            }
        }
    }

    private static void ExtractTar(Stream stream, string destination, AdminOptions limits, CancellationToken ct)
    {
        using var reader = new TarReader(stream, leaveOpen: true);
        long total = 0;
        try
        {
            while (reader.GetNextEntry() is { } entry)
            {
                ct.ThrowIfCancellationRequested();
                string target = Target(destination, entry.Name);
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        Directory.CreateDirectory(target);
                        continue;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        total += entry.Length;
                        if (total > limits.MaxExtractedBytes) throw new ArchiveRejectedException(413, $"archive: more than {limits.MaxExtractedBytes} bytes when extracted");
                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        using (var output = File.Create(target))
                            if (entry.DataStream is { } data) Copy(data, output, entry.Length + 1, entry.Name);
                        continue;
                    case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                        throw new ArchiveRejectedException(400, $"archive: '{entry.Name}' is a link");
                    case TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes:
                        continue;
                    default:
                        throw new ArchiveRejectedException(400, $"archive: '{entry.Name}' is a {entry.EntryType} entry, not a file or folder");
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new ArchiveRejectedException(400, $"archive: not a readable zip or tar ({e.Message})");
        }
    }

    /// <summary>The path of <paramref name="name"/> inside <paramref name="destination"/>; refuses anything that would land outside.</summary>
    internal static string Target(string destination, string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('\0') || name.Contains('\\'))
            throw new ArchiveRejectedException(400, $"archive: invalid entry name '{name}'");
        if (name.StartsWith('/') || Path.IsPathRooted(name) || (name.Length > 1 && name[1] == ':'))
            throw new ArchiveRejectedException(400, $"archive: '{name}' is an absolute path");
        if (name.Split('/').Any(part => part == ".."))
            throw new ArchiveRejectedException(400, $"archive: '{name}' climbs out of the archive (..)");
        string root = Path.GetFullPath(destination) + Path.DirectorySeparatorChar;
        string full = Path.GetFullPath(Path.Combine(root, name));
        if (!full.StartsWith(root, StringComparison.Ordinal) && full + Path.DirectorySeparatorChar != root)
            throw new ArchiveRejectedException(400, $"archive: '{name}' lies outside the archive");
        return full;
    }

    private static void Copy(Stream input, Stream output, long max, string name)
    {
        var buffer = new byte[81920];
        long total = 0;
        int n;
        while ((n = input.Read(buffer)) > 0)
        {
            total += n;
            if (total > max) throw new ArchiveRejectedException(400, $"archive: '{name}' is longer than its header says");
            output.Write(buffer, 0, n);
        }
    }

    /// <summary>The extracted tree must be <c>[root/]&lt;class&gt;/&lt;image&gt;</c> with every file a decodable image.</summary>
    private static Result Check(string destination, AdminOptions limits, CancellationToken ct)
    {
        string root = destination;
        if (Directory.GetFiles(root).Length == 0 && Directory.GetDirectories(root) is [var only]
            && Directory.GetFiles(only).Length == 0 && Directory.GetDirectories(only).Length > 0)
            root = only;   // one wrapping folder (e.g. train/<class>/<image>)
        var loose = Directory.GetFiles(root);
        if (loose.Length > 0)
            throw new ArchiveRejectedException(422, $"archive: '{Path.GetFileName(loose[0])}' is not inside a class folder (expected <class>/<image>)");
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToList();
        if (files.Count == 0) throw new ArchiveRejectedException(422, "archive: no images (expected <class>/<image>)");
        if (files.Count > limits.MaxImages) throw new ArchiveRejectedException(422, $"archive: {files.Count} files, more than the limit of {limits.MaxImages} images");
        foreach (var file in files)
        {
            ct.ThrowIfCancellationRequested();
            string relative = Path.GetRelativePath(destination, file);
            if (!ImageFolderSource.Extensions.Contains(Path.GetExtension(file)))
                throw new ArchiveRejectedException(422, $"archive: '{relative}' is not an image ({string.Join(", ", ImageFolderSource.Extensions)})");
            using (var codec = SKCodec.Create(file))   // the header first: a huge declared size is refused before decoding
                if (codec is not null && (codec.Info.Width > limits.MaxImageSide || codec.Info.Height > limits.MaxImageSide))
                    throw new ArchiveRejectedException(422, $"archive: '{relative}' is {codec.Info.Width}×{codec.Info.Height}, larger than {limits.MaxImageSide} pixels a side");
            if (ImageFolderSource.Decode(file, out var error) is null)
                throw new ArchiveRejectedException(422, $"archive: '{relative}' does not decode as an image: {error}");
        }
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
        return new Result(root, files.Count, classes);
    }
}
