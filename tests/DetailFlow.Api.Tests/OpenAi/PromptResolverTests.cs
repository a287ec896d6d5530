using DetailFlow.Api.OpenAi;

namespace DetailFlow.Api.Tests;

/// <summary>Prompt → class id over ImageNet-style labels with synonyms.</summary>
public sealed class PromptResolverTests
{
    private static readonly string[] Labels = ["tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark, white shark, man-eater", "T-shirt/top"];

    [Theory]
    [InlineData("tench, Tinca tinca", 0)]
    [InlineData("  TINCA TINCA ", 0)]
    [InlineData("Carassius auratus", 1)]
    [InlineData("man-eater", 2)]
    [InlineData("White Shark", 2)]
    [InlineData("t-shirt/top", 3)]
    [InlineData("2", 2)]
    [InlineData(" 0 ", 0)]
    public void Resolves_LabelsSynonymsAndDigits(string prompt, long id) => Assert.Equal(id, PromptResolver.Resolve(prompt, Labels, Labels.Length));

    [Theory]
    [InlineData("goldfsh", "'goldfish, Carassius auratus'")]
    [InlineData("whte shark", "'great white shark, white shark, man-eater'")]
    public void Unknown_NamesTheClosestLabelFirst(string prompt, string closest)
    {
        var e = Assert.Throws<OpenAiException>(() => PromptResolver.Resolve(prompt, Labels, Labels.Length));
        Assert.Equal(400, e.Status);
        Assert.Equal("prompt", e.Error.Param);
        Assert.Contains("Closest labels: " + closest, e.Message);
    }

    [Theory]
    [InlineData("4")]
    [InlineData("99999999999999999999999")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("-1")]
    public void OutOfRangeOrEmpty_Is400(string? prompt) =>
        Assert.Equal(400, Assert.Throws<OpenAiException>(() => PromptResolver.Resolve(prompt, Labels, Labels.Length)).Status);

    [Fact]
    public void NoLabels_DigitsOnly()
    {
        Assert.Equal(5, PromptResolver.Resolve("5", [], 10));
        Assert.Contains("no labels", Assert.Throws<OpenAiException>(() => PromptResolver.Resolve("cat", [], 10)).Message);
    }
}
