using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace DetailFlow.Api.Admin;

/// <summary>
/// Reads a <c>multipart/form-data</c> job request as it arrives: the <c>spec</c> field into memory, the <c>archive</c>
/// file straight into <paramref name="archivePath"/> (inside the new job's folder). Nothing is buffered anywhere else:
/// ASP.NET's form reader would spill large files into the machine's temp folder.
/// </summary>
public static class JobUpload
{
    private const int MaxSpecBytes = 64 << 10;

    /// <summary>The spec text and whether an archive was written; or the problem to answer with (nothing kept then).</summary>
    public sealed record Result(string? Spec, bool HasArchive, IResult? Problem);

    public static async Task<Result> ReadAsync(HttpRequest request, string archivePath, long maxArchiveBytes, CancellationToken ct)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || HeaderUtilities.RemoveQuotes(type.Boundary).Value is not { Length: > 0 } boundary)
            return Fail("body", "multipart/form-data needs a boundary");
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = maxArchiveBytes + MaxSpecBytes };
        string? spec = null;
        bool hasArchive = false;
        try
        {
            for (var section = await reader.ReadNextSectionAsync(ct); section is not null; section = await reader.ReadNextSectionAsync(ct))
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) || !disposition.IsFormDisposition() && !disposition.IsFileDisposition())
                    return Fail("body", "every part needs a Content-Disposition: form-data header");
                string name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (disposition.IsFileDisposition())
                {
                    if (name != "archive" || hasArchive) return Fail("archive", "upload one file, in the form field 'archive'");
                    Directory.CreateDirectory(Path.GetDirectoryName(archivePath)!);
                    await using var file = new FileStream(archivePath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                    if (!await CopyAtMostAsync(section.Body, file, maxArchiveBytes, ct)) return new Result(null, false, TooLarge(maxArchiveBytes));
                    hasArchive = true;
                }
                else if (name == "spec")
                {
                    using var text = new MemoryStream();
                    if (!await CopyAtMostAsync(section.Body, text, MaxSpecBytes, ct)) return Fail("spec", $"the spec field is larger than {MaxSpecBytes} bytes");
                    spec = Encoding.UTF8.GetString(text.ToArray());
                }
                else return Fail(name.Length > 0 ? name : "body", $"unknown form field '{name}' (expected 'spec' and 'archive')");
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge) { return new(null, false, TooLarge(maxArchiveBytes)); }
        catch (InvalidDataException e) when (e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase)) { return new(null, false, TooLarge(maxArchiveBytes)); }
        catch (InvalidDataException e) { return Fail("body", $"the multipart body is malformed: {e.Message}"); }
        catch (IOException e) when (e is not FileNotFoundException && !ct.IsCancellationRequested) { return Fail("body", $"the multipart body is malformed: {e.Message}"); }
        return new(spec, hasArchive, null);
    }

    /// <summary>Copies at most <paramref name="limit"/> bytes; false (and stops) when the source holds more.</summary>
    private static async Task<bool> CopyAtMostAsync(Stream source, Stream target, long limit, CancellationToken ct)
    {
        var buffer = new byte[1 << 16];
        long total = 0;
        for (int n; (n = await source.ReadAsync(buffer, ct)) > 0;)
        {
            if ((total += n) > limit) return false;
            await target.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        return true;
    }

    private static Result Fail(string field, string message) => new(null, false, JobEndpoints.Invalid(field, message));

    internal static IResult TooLarge(long maxArchiveBytes) => TypedResults.Problem(
        $"The upload is larger than Admin:MaxUploadBytes = {maxArchiveBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Archive too large", extensions: new Dictionary<string, object?> { ["field"] = "archive" });
}
