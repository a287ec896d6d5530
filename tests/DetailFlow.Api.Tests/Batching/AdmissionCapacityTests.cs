using DetailFlow.Api.Batching;

namespace DetailFlow.Api.Tests;

/// <summary>Admission sized by the measured rate: what cannot finish within half the deadline is refused up front.</summary>
public sealed class AdmissionCapacityTests
{
    private static readonly BatcherOptions Options = new() { MaxRows = 16, QueueCapacity = 64, DeadlineSeconds = 120 };

    [Fact]
    public void UnknownRate_TheConfiguredQueue() => Assert.Equal(72, Batcher.CapacityAt(Options, null));

    [Fact]
    public void FastModel_TheConfiguredQueue() => Assert.Equal(72, Batcher.CapacityAt(Options, 50));

    [Fact]
    public void SlowModel_WhatFinishesWithinHalfTheDeadline() => Assert.Equal(30, Batcher.CapacityAt(Options, 0.5));

    [Fact]
    public void VerySlowModel_StillTheRowsWorth() => Assert.Equal(8, Batcher.CapacityAt(Options, 0.01));

    [Fact]
    public void Rate_UnknownUntilAFewFinished_ThenPositive()
    {
        var rate = new CompletionRate();
        for (int i = 0; i < 3; i++) rate.Completed();
        Assert.Null(rate.PerSecond);
        Thread.Sleep(20);   // two completions apart in time, so the span is not zero
        rate.Completed();
        Assert.True(rate.PerSecond > 0, $"rate {rate.PerSecond}");
    }
}
