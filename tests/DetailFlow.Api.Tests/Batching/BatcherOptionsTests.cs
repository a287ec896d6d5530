using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Tests;

public sealed class BatcherOptionsTests
{
    [Fact]
    public void EagerFirstPreviews_AreOnByDefault_AtTheEnginesRatio()
    {
        var o = Resolve();
        Assert.True(o.EagerFirstPreviews);
        Assert.Equal(Core.Generation.NextDetailEngine.DefaultEagerCostRatio, o.EagerCostRatio);
        Assert.False(Resolve(("BatcherOptions:EagerFirstPreviews", "false")).EagerFirstPreviews);
        Assert.Equal(0, Resolve(("BatcherOptions:EagerCostRatio", "0")).EagerCostRatio);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1001")]
    public void EagerCostRatio_OutsideItsRange_IsRefused(string ratio)
    {
        var e = Assert.Throws<OptionsValidationException>(() => Resolve(("BatcherOptions:EagerCostRatio", ratio)));
        Assert.Contains("BatcherOptions:EagerCostRatio must be in 0..1000", e.Message);
    }

    private static BatcherOptions Resolve(params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateBuilder();
        foreach (var (k, v) in settings) builder.Configuration[k] = v;
        builder.AddDetailFlow();
        using var services = builder.Services.BuildServiceProvider();
        return services.GetRequiredService<IOptions<BatcherOptions>>().Value;
    }
}
