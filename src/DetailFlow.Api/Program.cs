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
