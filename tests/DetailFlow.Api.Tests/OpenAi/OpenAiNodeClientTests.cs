using System.Text.RegularExpressions;

namespace DetailFlow.Api.Tests;

/// <summary>
/// The official <c>openai</c> npm package (6.49.0, from tests/openai-node's lockfile), unmodified, against the service as a
/// process on 127.0.0.1: its own test file (tests/openai-node/client.test.mjs) runs under <c>node --test</c> and every one
/// of its tests must pass — none skipped.
/// </summary>
public sealed class OpenAiNodeClientTests
{
    private const string Key = "node-test-key";
    private const int ExpectedTests = 14;

    [Fact]
    public async Task OfficialNodeClient_PassesItsSuite()
    {
        string folder = NodeTool.Folder("openai-node");
        await NodeTool.EnsureInstalledAsync(folder, "openai", "6.49.0");
        await using var open = await ServiceProcess.StartAsync(name: "open");
        await using var keyed = await ServiceProcess.StartAsync(new Dictionary<string, string> { ["Auth__ApiKeys__0"] = Key }, "keyed");
        var env = new Dictionary<string, string>
        {
            ["DETAILFLOW_URL"] = open.BaseUrl, ["DETAILFLOW_KEYED_URL"] = keyed.BaseUrl, ["DETAILFLOW_KEY"] = Key,
            ["OPENAI_API_KEY"] = "", ["OPENAI_BASE_URL"] = "",
        };
        var (code, output) = await NodeTool.RunAsync("node", ["--test", "--test-reporter=tap", "client.test.mjs"], folder, env, TimeSpan.FromMinutes(5));

        Assert.True(code == 0, $"node --test exited with {code}:\n{output}\n--- service:\n{open.Output}");
        Assert.Equal(ExpectedTests, Count(output, "pass"));
        Assert.Equal(0, Count(output, "fail"));
        Assert.Equal(0, Count(output, "skipped"));
        Assert.Equal(0, Count(output, "todo"));
        Assert.DoesNotContain(Key, open.Output + keyed.Output);   // keys are never logged
    }

    private static int Count(string tap, string what) =>
        Regex.Match(tap, $@"^# {what} (\d+)$", RegexOptions.Multiline) is { Success: true } m ? int.Parse(m.Groups[1].Value)
            : throw new Xunit.Sdk.XunitException($"no '# {what}' line in the TAP output:\n{tap}");
}
