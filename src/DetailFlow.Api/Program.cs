using DetailFlow.Api.Admin;
using DetailFlow.Api.Endpoints;
using DetailFlow.Api.Hosting;
using DetailFlow.Api.OpenAi;
using DetailFlow.Core.Runtime;
using Microsoft.Extensions.Options;

if (HealthProbe.IsRequested(args)) return HealthProbe.Run(args);   // container HEALTHCHECK: no curl in the image
OpenMpWaitPolicy.PreferPassive();   // before libtorch loads: idle OpenMP threads sleep instead of spinning
string nativeCaches = NativeCaches.Bound();   // before libtorch loads: a long-running process keeps them bounded
var builder = WebApplication.CreateBuilder(args);
builder.AddDetailFlow();

var app = builder.Build();
app.Logger.LogInformation("Native caches bounded: {NativeCaches}", nativeCaches);
if (!NativeCaches.ArenaCapFromStart)
    app.Logger.LogWarning("MALLOC_ARENA_MAX was not set when the process started: glibc keeps the arenas it made before Main, and under " +
        "load a large model's resident size keeps growing (docs/memory.md). `dotnet run` and the Docker image set it to 1.");
app.UseDetailFlow();
app.MapV1Endpoints();
app.MapAdminEndpoints();

try
{
    app.Run();
    return Environment.ExitCode;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine($"detailflow: invalid configuration: {e.Message}");
    return 2;
}

public partial class Program;
