using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Tests;

public sealed class ServingPlanTests
{
    [Theory]
    [InlineData(1, 1, 1, 16, false)]   // one core: both threads on it, the fewest rows
    [InlineData(2, 1, 1, 32, true)]    // the split measured on the 2-core machines here; 16 guided requests in flight
    [InlineData(4, 3, 1, 64, true)]
    [InlineData(8, 6, 2, 64, true)]    // rows capped
    [InlineData(64, 43, 21, 64, true)]
    public void LeftOpen_TheCoresAreDividedByTheRule(int cores, int engine, int decode, int rows, bool shared)
    {
        var plan = ServingPlan.For(cores);
        Assert.Equal(new ServingPlan(cores, engine, decode, rows, shared), plan);
        Assert.True(plan.EngineThreads + plan.DecodeThreads <= Math.Max(2, cores));
    }

    [Fact]
    public void GivenSettings_AreKept_AndTheRestFollowsThem_WithoutSharing()
    {
        Assert.Equal(new ServingPlan(8, 2, 6, 32, false), ServingPlan.For(8, threads: 2, decodeThreads: 6));
        Assert.Equal(new ServingPlan(8, 4, 4, 64, false), ServingPlan.For(8, decodeThreads: 4));   // engine = the rest
        Assert.Equal(new ServingPlan(2, 1, 1, 16, false), ServingPlan.For(2, threads: 1));       // rows for the given engine threads
        Assert.Equal(new ServingPlan(8, 6, 2, 2, true), ServingPlan.For(8, maxRows: 2));
    }

    [Fact]
    public void Apply_FillsOnlyZeros_ANegativeValueStaysForTheValidator()
    {
        var o = new ModelOptions { GptPath = "gpt.safetensors", TokenizerPath = "tokenizer.safetensors", Threads = -1, DecodeThreads = 0 };
        ServingPlan.Apply(o);
        Assert.Equal(-1, o.Threads);
        Assert.Equal(ServingPlan.ForThisMachine().DecodeThreads, o.DecodeThreads);
        var result = new ModelOptionsValidator().Validate(null, o);
        Assert.Contains("ModelOptions:Threads = -1", result.FailureMessage);
    }

    [Fact]
    public void TheServicesOptions_LeftAtZero_CarryThePlanOfThisMachine()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["ModelOptions:Threads"] = "0";
        builder.Configuration["ModelOptions:DecodeThreads"] = "0";
        builder.Configuration["BatcherOptions:MaxRows"] = "0";
        builder.AddDetailFlow();
        using var services = builder.Services.BuildServiceProvider();
        var model = services.GetRequiredService<IOptions<ModelOptions>>().Value;
        var batcher = services.GetRequiredService<IOptions<BatcherOptions>>().Value;
        var plan = ServingPlan.ForThisMachine();
        Assert.Equal((plan.EngineThreads, plan.DecodeThreads, plan.MaxRows, plan.CoresShared),
            (model.Threads, model.DecodeThreads, batcher.MaxRows, model.CoresShared));

        var given = WebApplication.CreateBuilder();
        given.Configuration["ModelOptions:Threads"] = "3";
        given.Configuration["BatcherOptions:MaxRows"] = "6";
        given.AddDetailFlow();
        using var givenServices = given.Services.BuildServiceProvider();
        Assert.Equal(3, givenServices.GetRequiredService<IOptions<ModelOptions>>().Value.Threads);
        Assert.Equal(6, givenServices.GetRequiredService<IOptions<BatcherOptions>>().Value.MaxRows);
    }
}
