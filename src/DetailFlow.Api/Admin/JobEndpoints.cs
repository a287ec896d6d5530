using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using DetailFlow.Training.Data;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Admin;

/// <summary>
/// <c>/admin/jobs</c>: start (JSON spec, or multipart with a <c>spec</c> field and an <c>archive</c> file), list, inspect,
/// follow (SSE), cancel (a checkpoint is kept) and resume training jobs.
/// </summary>
public static class JobEndpoints
{
    public static RouteGroupBuilder MapJobEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapPost("jobs", Create).WithName("CreateJob").WithSummary("Queue a training job (tokenizer | ar); 202 + Location").DisableAntiforgery();
        admin.MapGet("jobs", List).WithName("ListJobs").WithSummary("Jobs newest first, a page at a time (limit, before = the previous page's next, state)");
        admin.MapGet("jobs/{id}", Get).WithName("GetJob").WithSummary("State, step, loss curve, throughput, ETA, last checkpoint, error");
        admin.MapGet("jobs/{id}/events", Events).WithName("JobEvents").WithSummary("Progress as server-sent events until the job stops");
        admin.MapDelete("jobs/{id}", Cancel).WithName("CancelJob").WithSummary("Cancel; a running job writes a checkpoint first");
        admin.MapPost("jobs/{id}/resume", Resume).WithName("ResumeJob").WithSummary("Continue an interrupted, cancelled or failed job from its last checkpoint");
        return admin;
    }

    public static async Task<IResult> Create(HttpContext http, IJobStore store, IOptions<AdminOptions> options, ILogger<JobWorker> logger)
    {
        var o = options.Value;
        string id = Guid.NewGuid().ToString("N")[..16];
        string jobFolder = Path.GetFullPath(Path.Combine(o.DataFolder, "jobs", id));
        string upload = Path.Combine(jobFolder, "upload.part");
        IResult result;
        try { result = await CreateAsync(http, store, o, logger, id, jobFolder, upload); }
        catch
        {
            DeleteFolder(jobFolder);
            throw;
        }
        if (result is Accepted) File.Delete(upload);
        else DeleteFolder(jobFolder);   // a refused request leaves nothing behind
        return result;
    }

    private static async Task<IResult> CreateAsync(HttpContext http, IJobStore store, AdminOptions o, ILogger logger,
        string id, string jobFolder, string upload)
    {
        var ct = http.RequestAborted;
        JobSpec? spec;
        bool hasArchive = false;
        if (http.Request.HasFormContentType)
        {
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = o.MaxUploadBytes + (64 << 10);
            if (http.Request.ContentLength > o.MaxUploadBytes + (64 << 10)) return JobUpload.TooLarge(o.MaxUploadBytes);
            var form = await JobUpload.ReadAsync(http.Request, upload, o.MaxUploadBytes, ct);
            if (form.Problem is not null) return form.Problem;
            hasArchive = form.HasArchive;
            try { spec = JsonSerializer.Deserialize<JobSpec>(form.Spec is { Length: > 0 } s ? s : "null", AdminJson.Options); }
            catch (JsonException e) { return Invalid("spec", $"the spec field is not valid JSON: {e.Message}"); }
        }
        else
        {
            try { spec = await http.Request.ReadFromJsonAsync<JobSpec>(AdminJson.Options, ct); }
            catch (JsonException e) { return Invalid("body", $"the body is not valid JSON: {e.Message}"); }
            catch (InvalidOperationException) { return Invalid("body", "send the spec as application/json, or multipart/form-data with 'spec' and 'archive'"); }
        }
        if (spec is null) return Invalid("spec", "a job spec (JSON object) is required");
        var (valid, errors) = spec.Validate(hasArchive, o);
        if (valid?.DatasetPath is { } folder)
        {
            try { _ = new ImageFolderSource(folder); }
            catch (Exception e) when (e is InvalidDataException or DirectoryNotFoundException) { errors["dataset_path"] = [e.Message]; valid = null; }
        }
        if (valid is null) return TypedResults.ValidationProblem(errors, title: "Invalid job spec");

        var classes = Array.Empty<string>() as IReadOnlyList<string>;
        if (hasArchive)
        {
            var (imported, problem) = await ImportArchiveAsync(upload, jobFolder, o, logger, id, ct);
            if (problem is not null) return problem;
            classes = imported!;
        }
        Directory.CreateDirectory(jobFolder);
        var now = DateTimeOffset.UtcNow;
        var job = new JobRecord
        {
            Id = id, Name = valid.Name!, Kind = valid.Kind!, State = JobState.Queued, TotalSteps = valid.Steps!.Value, ClassNames = classes,
            Created = now, Updated = now, Folder = jobFolder, Spec = valid,
        };
        await store.SaveAsync(job, CancellationToken.None);
        await store.EnqueueAsync(id, CancellationToken.None);
        return new Accepted($"/admin/jobs/{id}", TypedResults.Json(job, AdminJson.Options, statusCode: StatusCodes.Status202Accepted));
    }

    /// <summary>Unpacks the uploaded archive into the job's dataset folder: its class names, or the problem that refuses it.</summary>
    private static async Task<(IReadOnlyList<string>? Classes, IResult? Problem)> ImportArchiveAsync(string upload, string jobFolder, AdminOptions o,
        ILogger logger, string id, CancellationToken ct)
    {
        try
        {
            await using var archive = new FileStream(upload, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            var imported = await Task.Run(() => ArchiveImport.Extract(archive, Path.Combine(jobFolder, "dataset"), o, ct), ct);
            logger.LogInformation("Job {Id}: archive unpacked: {Images} images in {Classes} classes", id, imported.Images, imported.Classes.Count);
            return (imported.Classes, null);
        }
        catch (ArchiveRejectedException e)
        {
            return (null, e.Status == StatusCodes.Status413PayloadTooLarge
                ? TypedResults.Problem(e.Message, statusCode: e.Status, title: "Archive too large", extensions: Field("archive"))
                : TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]> { ["archive"] = [e.Message] })
                {
                    Title = "Archive rejected", Detail = e.Message, Status = e.Status,
                }));
        }
    }

    /// <summary>Jobs per page unless <c>limit</c> says otherwise, and the most it may say.</summary>
    public const int DefaultPage = 50, MaxPage = 500;

    /// <summary>
    /// Jobs newest first: up to <paramref name="limit"/> of them (default <see cref="DefaultPage"/>), those created after
    /// the job <paramref name="before"/> skipped, only those in <paramref name="state"/> when given; <c>next</c> is the
    /// <c>before</c> of the following page (null on the last).
    /// </summary>
    public static async Task<IResult> List(IJobStore store, string? state, string? limit, string? before, CancellationToken ct)
    {
        int take = DefaultPage;
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, null, out take) || take is < 1 or > MaxPage))
            return InvalidQuery("limit", $"limit must be a whole number in 1..{MaxPage}, got '{limit}'");
        var states = Enum.GetValues<JobState>();
        if (state is not null && !states.Any(s => Name(s) == state))
            return InvalidQuery("state", $"unknown state '{state}'; expected one of {string.Join(", ", states.Select(Name))}");
        var jobs = (await store.ListAsync(ct)).AsEnumerable();
        if (before is not null)
        {
            var all = jobs.ToList();
            int at = all.FindIndex(j => j.Id == before);
            if (at < 0) return InvalidQuery("before", $"no job with id '{before}'");
            jobs = all.Skip(at + 1);
        }
        var page = jobs.Where(j => state is null || Name(j.State) == state).Take(take + 1).ToList();
        string? next = page.Count > take ? page[take - 1].Id : null;
        return TypedResults.Json(new { jobs = page.Take(take), next }, AdminJson.Options);
    }

    public static async Task<IResult> Get(string id, IJobStore store, CancellationToken ct) =>
        await store.GetAsync(id, ct) is { } job ? TypedResults.Json(job, AdminJson.Options) : NotFound(id);

    public static async Task<IResult> Cancel(string id, IJobStore store, JobWorker worker, JobEvents events, CancellationToken ct)
    {
        if (await store.GetAsync(id, ct) is not { } job) return NotFound(id);
        switch (job.State)
        {
            case JobState.Queued:
                job = job with { State = JobState.Cancelled, Updated = DateTimeOffset.UtcNow };
                await store.SaveAsync(job, CancellationToken.None);
                events.Notify(id);
                return TypedResults.Json(job, AdminJson.Options, statusCode: StatusCodes.Status202Accepted);
            case JobState.Running:
                await store.SetCancelRequestedAsync(id, true);
                worker.CancelLocal(id);   // elsewhere: its worker sees the request at its next lease renewal
                return TypedResults.Json(job, AdminJson.Options, statusCode: StatusCodes.Status202Accepted);
            default:
                return Conflict($"job {id} is {Name(job.State)}; only queued or running jobs can be cancelled");
        }
    }

    public static async Task<IResult> Resume(string id, IJobStore store, JobEvents events, CancellationToken ct)
    {
        if (await store.GetAsync(id, ct) is not { } job) return NotFound(id);
        if (job.State is not (JobState.Interrupted or JobState.Cancelled or JobState.Failed))
            return Conflict($"job {id} is {Name(job.State)}; only interrupted, cancelled or failed jobs can be resumed");
        if (await store.IsLeasedAsync(id)) return Conflict($"job {id} is still held by a worker; retry shortly");
        await store.SetCancelRequestedAsync(id, false);
        job = job with { State = JobState.Queued, Error = null, Updated = DateTimeOffset.UtcNow };
        await store.SaveAsync(job, CancellationToken.None);
        await store.EnqueueAsync(id, CancellationToken.None);
        events.Notify(id);
        return new Accepted($"/admin/jobs/{id}", TypedResults.Json(job, AdminJson.Options, statusCode: StatusCodes.Status202Accepted));
    }

    public static async Task<IResult> Events(string id, IJobStore store, JobEvents events, HttpContext http)
    {
        if (await store.GetAsync(id, http.RequestAborted) is null) return NotFound(id);
        return TypedResults.ServerSentEvents(Stream(id, store, events, http.RequestAborted));
    }

    /// <summary><c>progress</c> on every change (state, step), then one event named after the final state; heartbeats while idle.</summary>
    private static async IAsyncEnumerable<SseItem<JsonElement>> Stream(string id, IJobStore store, JobEvents events,
        [EnumeratorCancellation] CancellationToken ct)
    {
        yield return new SseItem<JsonElement>(JsonSerializer.SerializeToElement(new { time = DateTimeOffset.UtcNow }), "heartbeat");
        (JobState, long, string?)? seen = null;
        var quiet = DateTime.UtcNow;
        while (!ct.IsCancellationRequested)
        {
            long version = events.Version(id);   // before the read: a change saved after it wakes the wait below at once
            var job = await store.GetAsync(id, ct);
            if (job is null) yield break;
            var now = (job.State, job.Step, job.Phase);
            if (now != seen)
            {
                seen = now;
                quiet = DateTime.UtcNow;
                var data = JsonSerializer.SerializeToElement(job, AdminJson.Options);
                if (job.IsTerminal) { yield return new SseItem<JsonElement>(data, Name(job.State)) { EventId = job.Step.ToString() }; yield break; }
                yield return new SseItem<JsonElement>(data, "progress") { EventId = job.Step.ToString() };
            }
            else if (DateTime.UtcNow - quiet > TimeSpan.FromSeconds(10))
            {
                quiet = DateTime.UtcNow;
                yield return new SseItem<JsonElement>(JsonSerializer.SerializeToElement(new { time = DateTimeOffset.UtcNow }), "heartbeat");
            }
            await events.WaitAsync(id, version, TimeSpan.FromMilliseconds(500), ct);
        }
    }

    internal static string Name(JobState state) => JsonNamingPolicy.SnakeCaseLower.ConvertName(state.ToString());

    private static void DeleteFolder(string folder)
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    private static Dictionary<string, object?> Field(string name) => new() { ["field"] = name };

    internal static IResult Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "Invalid job spec");

    private static IResult InvalidQuery(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "Invalid query");

    internal static IResult NotFound(string id) =>
        TypedResults.Problem($"No job with id '{id}'.", statusCode: StatusCodes.Status404NotFound, title: "Job not found");

    internal static IResult Conflict(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");

    /// <summary>202 with a Location header and the job as the body.</summary>
    private sealed class Accepted(string location, IResult body) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.Headers.Location = location;
            return body.ExecuteAsync(http);
        }
    }
}
