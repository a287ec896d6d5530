using System.CommandLine;
using System.CommandLine.Parsing;

namespace DetailFlow.Cli.Commands;

/// <summary>The <c>--url</c> option of the commands that send load to a running service.</summary>
internal static class ServiceUrlOption
{
    public static Option<Uri> Create() => new("--url")
    {
        Description = "Base URL of the service; loopback only (e.g. http://127.0.0.1:5000)",
        Required = true,
        CustomParser = r => Uri.TryCreate(r.Tokens.Single().Value, UriKind.Absolute, out var uri) ? uri : Fail(r),
    };

    private static Uri Fail(ArgumentResult r)
    {
        r.AddError($"--url '{r.Tokens.Single().Value}': not an absolute URL");
        return null!;
    }
}
