using DetailFlow.Api.Endpoints;
using DetailFlow.Api.Hosting;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);
builder.AddDetailFlow();

var app = builder.Build();
app.UseDetailFlow();
app.MapGenerateEndpoints();
app.MapStreamEndpoints();
app.MapRefineEndpoints();
app.MapModelEndpoints();

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
