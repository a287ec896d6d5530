using DetailFlow.Api.Batching;

namespace DetailFlow.Api.Tests;

public sealed class HeapTrimsTests
{
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = 1_000_000;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    private readonly ManualClock _clock = new();
    private int _trimmed;
    private HeapTrims New() => new(_clock, () => { _trimmed++; return true; });

    [Fact]
    public void Steps_TrimOncePerPeriod()
    {
        var trims = New();
        for (int i = 0; i < 30; i++)   // 30 steps, one a second
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            trims.AfterStep();
        }
        Assert.Equal(30 / (int)HeapTrims.Period.TotalSeconds, _trimmed);
        Assert.Equal(_trimmed, trims.Trims);
    }

    [Fact]
    public void AnIdleEngine_TrimsOnceAfterItsLastStep_AndWaitsNoLongerThanThat()
    {
        var trims = New();
        Assert.Null(trims.IdleTrimDueIn);   // nothing stepped yet: nothing to wait for
        trims.AfterStep();
        Assert.Equal(0, _trimmed);
        Assert.Equal(HeapTrims.IdleAfter, trims.IdleTrimDueIn);

        _clock.Advance(HeapTrims.IdleAfter / 2);
        trims.WhenIdle();
        Assert.Equal(0, _trimmed);
        Assert.Equal(HeapTrims.IdleAfter / 2, trims.IdleTrimDueIn);

        _clock.Advance(HeapTrims.IdleAfter / 2);
        Assert.Equal(TimeSpan.Zero, trims.IdleTrimDueIn);
        trims.WhenIdle();
        Assert.Equal(1, _trimmed);
        Assert.Null(trims.IdleTrimDueIn);   // trimmed: the engine may sleep until work arrives

        _clock.Advance(TimeSpan.FromHours(1));
        trims.WhenIdle();
        Assert.Equal(1, _trimmed);
    }

    [Fact]
    public void TrimsTheCLibraryCannotRun_AreNotCounted()
    {
        var trims = new HeapTrims(_clock, () => false);
        _clock.Advance(HeapTrims.Period);
        trims.AfterStep();
        Assert.Equal(0, trims.Trims);
        Assert.Null(trims.IdleTrimDueIn);   // attempted all the same: no retry at every idle wake-up
    }
}
