using System.Text.Json;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace DetailFlow.Api.Tests;

/// <summary>The service with no model configuration serves the embedded default model (models/default, Fashion-MNIST).</summary>
public sealed class DefaultModelFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public DefaultModelFactory() => UseKestrel(0);

    // No ModelOptions:GptPath / TokenizerPath / Labels: only the top-level appsettings.json travels with the binary.
    protected override void ConfigureWebHost(IWebHostBuilder builder) => builder.UseSetting("ModelOptions:Threads", "1");

    public async Task InitializeAsync()
    {
        StartServer();
        using var client = CreateClient();
        await ApiFactory.WaitUntilReadyAsync(client);
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}

public sealed class DefaultModelTests(DefaultModelFactory api) : IClassFixture<DefaultModelFactory>
{
    [Fact]
    public async Task NoConfiguration_ServesTheDefaultModel_ByClassName()
    {
        using var client = api.CreateClient();
        var models = await client.GetStringAsync("/v1/models");
        Assert.Contains("Sneaker", models);
        Assert.Contains("Ankle boot", models);
        // Served at the guidance its quality was measured at; a request that names cfg_scale keeps it.
        Assert.Equal(DefaultModel.CfgScale, JsonDocument.Parse(models).RootElement.GetProperty("data")[0].GetProperty("defaults").GetProperty("cfg_scale").GetDouble());
        var watch = Stopwatch.StartNew();
        var response = await client.PostAsJsonAsync("/v1/generate", new { @class = "Sneaker", seed = 3 });
        watch.Stop();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((32, 32), PngInfo.Size(await response.Content.ReadAsByteArrayAsync()));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"one default-model request took {watch.Elapsed}");
    }

    [Fact]
    public void Apply_FillsEmptyPathsWithTheDefaultModel_AndResolvesBesideTheBinary()
    {
        var dir = Directory.CreateTempSubdirectory("defaultmodel");
        var bin = Directory.CreateDirectory(Path.Combine(dir.FullName, "bin", "models", "default"));
        foreach (var f in new[] { "gpt.safetensors", "tokenizer.safetensors", "labels.txt" }) File.WriteAllText(Path.Combine(bin.FullName, f), "x");
        var cwd = Directory.CreateDirectory(Path.Combine(dir.FullName, "cwd"));
        try
        {
            var o = new ModelOptions();
            DefaultModel.Apply(o, cwd.FullName, Path.Combine(dir.FullName, "bin"));
            Assert.Equal(Path.Combine(bin.FullName, "gpt.safetensors"), o.GptPath);
            Assert.Equal(Path.Combine(bin.FullName, "tokenizer.safetensors"), o.TokenizerPath);
            Assert.Equal(Path.Combine(bin.FullName, "labels.txt"), o.LabelsFile);
            Assert.Equal(DefaultModel.CfgScale, o.CfgScale);
            var explicitCfg = new ModelOptions { CfgScale = 4 };
            DefaultModel.Apply(explicitCfg, cwd.FullName, Path.Combine(dir.FullName, "bin"));
            Assert.Equal(4, explicitCfg.CfgScale);

            // A configured model is kept; a relative path found in the current directory wins.
            File.WriteAllText(Path.Combine(cwd.FullName, "g.safetensors"), "x");
            var configured = new ModelOptions { GptPath = "g.safetensors", TokenizerPath = "/abs/t.safetensors", Labels = ["a"] };
            DefaultModel.Apply(configured, cwd.FullName, Path.Combine(dir.FullName, "bin"));
            Assert.Equal(Path.Combine(cwd.FullName, "g.safetensors"), configured.GptPath);
            Assert.Equal("/abs/t.safetensors", configured.TokenizerPath);
            Assert.Equal("", configured.LabelsFile);
            Assert.Null(configured.CfgScale);   // another model keeps the official default
        }
        finally { dir.Delete(recursive: true); }
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(double.NaN)]
    public void Validator_RefusesAGuidanceDefaultBelowOne(double cfg)
    {
        var result = new ModelOptionsValidator().Validate(null, new ModelOptions
        {
            GptPath = TinyModel.GptPath, TokenizerPath = TinyModel.TokenizerPath, CfgScale = cfg,
        });
        Assert.True(result.Failed);
        Assert.Contains("ModelOptions:CfgScale", result.FailureMessage);
    }
}
