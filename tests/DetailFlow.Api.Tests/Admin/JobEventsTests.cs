using DetailFlow.Api.Admin;

namespace DetailFlow.Api.Tests;

/// <summary>A job's change reaches a stream whether it came while the stream waited or while it was reading the record.</summary>
public sealed class JobEventsTests
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task AChangeNotifiedBeforeTheWait_EndsItAtOnce()
    {
        var events = new JobEvents();
        long seen = events.Version("job");
        events.Notify("job");   // while the stream reads the record
        var wait = events.WaitAsync("job", seen, Long, CancellationToken.None);
        Assert.True(wait.IsCompletedSuccessfully);
        await wait;
        Assert.Equal(seen + 1, events.Version("job"));
    }

    [Fact]
    public async Task AWaitUpToDate_EndsAtTheNextChangeOfItsJobOnly()
    {
        var events = new JobEvents();
        events.Notify("job");
        var wait = events.WaitAsync("job", events.Version("job"), Long, CancellationToken.None);
        events.Notify("other");
        Assert.False(wait.IsCompleted);
        events.Notify("job");
        await wait.WaitAsync(Long);
        await events.WaitAsync("job", events.Version("job"), TimeSpan.FromMilliseconds(10), CancellationToken.None);   // no change: its timeout ends it
    }
}
