namespace DetailFlow.Core.Tests;

public class ArchitectureTests
{
    [Fact]
    public void CoreReferencesNoWebConsoleOrCacheAssemblies()
    {
        var forbidden = new[] { "Microsoft.AspNetCore", "StackExchange.Redis", "Spectre.", "System.CommandLine", "Microsoft.Extensions.Logging" };
        var references = typeof(DetailFlow.Core.Parity.ParityRunner).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.Contains("TorchSharp", references);
        Assert.DoesNotContain(references, r => forbidden.Any(f => r.StartsWith(f, StringComparison.Ordinal)));
    }
}
