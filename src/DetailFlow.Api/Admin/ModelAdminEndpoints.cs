using System.Text.Json.Serialization;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Checkpoints;

namespace DetailFlow.Api.Admin;

/// <summary><c>POST /admin/models/activate</c> (a finished job's checkpoint or any converted model) and <c>GET /admin/models</c>.</summary>
public static class ModelAdminEndpoints
{
    public sealed record ActivateRequest
    {
        [JsonPropertyName("job_id")] public string? JobId { get; init; }
        [JsonPropertyName("gpt_path")] public string? GptPath { get; init; }
        [JsonPropertyName("tokenizer_path")] public string? TokenizerPath { get; init; }
        [JsonPropertyName("labels")] public string[]? Labels { get; init; }
    }

    public sealed record ModelView(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("gpt_path")] string GptPath,
        [property: JsonPropertyName("tokenizer_path")] string TokenizerPath,
        [property: JsonPropertyName("job_id")] string? JobId,
        [property: JsonPropertyName("fingerprint")] string? Fingerprint,
        [property: JsonPropertyName("active")] bool Active);

    public static RouteGroupBuilder MapModelAdminEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("models", List).WithName("ListAdminModels").WithSummary("The active model, the configured one and every job checkpoint that can be activated");
        admin.MapPost("models/activate", Activate).WithName("ActivateModel")
            .WithSummary("Swap a job's checkpoint or a converted model into serving without dropping in-flight requests");
        return admin;
    }

    public static async Task<IResult> List(ModelState state, ModelLoader loader, IJobStore store, CancellationToken ct)
    {
        var active = state.Model;
        var views = new List<ModelView>();
        if (active?.Source is { } a) views.Add(new ModelView(active.Name, a.GptPath, a.TokenizerPath, a.JobId, active.Fingerprint, true));
        var configured = loader.Configured;
        if (active?.Source is not { } s || s.GptPath != configured.GptPath || s.TokenizerPath != configured.TokenizerPath)
            views.Add(new ModelView(configured.Name ?? "configured", configured.GptPath, configured.TokenizerPath, null, null, false));
        foreach (var job in await store.ListAsync(ct))
        {
            if (job.State != JobState.Completed || Source(job, active) is not { } source || source.JobId == active?.Source?.JobId && source.GptPath == active?.Source?.GptPath && source.TokenizerPath == active?.Source?.TokenizerPath) continue;
            views.Add(new ModelView(source.Name!, source.GptPath, source.TokenizerPath, job.Id, null, false));
        }
        return TypedResults.Json(new { active = active?.Fingerprint, retired_in_use = state.RetiredCount, models = views }, AdminJson.Options);
    }

    public static async Task<IResult> Activate(ActivateRequest? request, ModelState state, IJobStore store, ModelActivator activator, HttpContext http)
    {
        var errors = new Dictionary<string, string[]>();
        ModelSource? source = null;
        string field = "job_id";
        if (request is null) errors["body"] = ["a JSON object with job_id, or gpt_path and tokenizer_path, is required"];
        else if (request.JobId is { } id)
        {
            if (request.GptPath is not null || request.TokenizerPath is not null) errors["job_id"] = ["give job_id, or gpt_path and tokenizer_path, not both"];
            else if (await store.GetAsync(id, http.RequestAborted) is not { } job) errors["job_id"] = [$"no job with id '{id}'"];
            else if (job.State is JobState.Running or JobState.Queued) errors["job_id"] = [$"job {id} is {JobEndpoints.Name(job.State)}; activate it when it has finished"];
            else if (Source(job, state.Model) is not { } s) errors["job_id"] = [$"job {id} has no checkpoint to activate"];
            else source = s;
        }
        else
        {
            if (string.IsNullOrWhiteSpace(request.GptPath) || !File.Exists(request.GptPath)) errors["gpt_path"] = [$"gpt_path = '{request.GptPath}': file not found"];
            if (string.IsNullOrWhiteSpace(request.TokenizerPath) || !File.Exists(request.TokenizerPath)) errors["tokenizer_path"] = [$"tokenizer_path = '{request.TokenizerPath}': file not found"];
            if (request.Labels?.Any(string.IsNullOrWhiteSpace) == true) errors["labels"] = ["labels must not be empty"];
            if (errors.Count == 0)
                source = new ModelSource(Path.GetFullPath(request.GptPath!), Path.GetFullPath(request.TokenizerPath!), request.Labels ?? state.Model?.Labels ?? []);
            field = "gpt_path";
        }
        if (errors.Count > 0 || source is null) return TypedResults.ValidationProblem(errors, title: "Invalid activation");
        try
        {
            var model = await activator.ActivateAsync(source, announce: true, http.RequestAborted);
            return TypedResults.Json(new ModelView(model.Name, source.GptPath, source.TokenizerPath, source.JobId, model.Fingerprint, true), AdminJson.Options);
        }
        catch (InvalidOperationException e)
        {
            string key = e.Message.StartsWith("tokenizer_path", StringComparison.Ordinal) ? "tokenizer_path"
                : e.Message.StartsWith("labels", StringComparison.Ordinal) ? "labels" : field;
            return TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]> { [key] = [e.Message] })
            {
                Title = "The model cannot be served", Detail = e.Message, Status = StatusCodes.Status422UnprocessableEntity,
            });
        }
    }

    /// <summary>
    /// What serving a job means: an ar job's GPT checkpoint with its base tokenizer (labels = its class folders); a
    /// tokenizer job's checkpoint as the decoder of the active GPT.
    /// </summary>
    internal static ModelSource? Source(JobRecord job, LoadedModel? active)
    {
        if (job.LastCheckpoint is not { } checkpoint || !File.Exists(checkpoint)) return null;
        string name = $"{job.Name} @ {Path.GetFileNameWithoutExtension(checkpoint).TrimStart('0')}";
        if (job.Spec.Kind == JobSpec.Ar)
            return new ModelSource(checkpoint, job.Spec.BaseTokenizer!, job.ClassNames,
                job.Spec.Ema == true ? CheckpointEntry.Ema : CheckpointEntry.Model, name, job.Id);
        if (active?.Source is not { } current) return null;
        return new ModelSource(current.GptPath, checkpoint, current.Labels, current.GptEntry, name, job.Id);
    }
}
