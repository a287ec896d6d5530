using DetailFlow.Core.Runtime;

namespace DetailFlow.Core.Tests.Runtime;

/// <summary>The kernel team runs every part of a job exactly once, whoever takes it, and reports a part's failure to the caller.</summary>
public class KernelTeamTests
{
    [Theory]
    [InlineData(1, 2)]
    [InlineData(7, 1)]
    [InlineData(1000, 2)]
    [InlineData(64, 4)]
    public void Run_RunsEveryPartOnce(int parts, int threads)
    {
        for (int job = 0; job < 20; job++)
        {
            var runs = new int[parts];
            KernelTeam.Run(parts, threads, i => Interlocked.Increment(ref runs[i]));
            Assert.All(runs, r => Assert.Equal(1, r));
        }
    }

    [Fact]
    public void Run_RethrowsAPartsFailure_AfterTheOtherPartsRan()
    {
        var runs = new int[50];
        var e = Assert.Throws<InvalidOperationException>(() => KernelTeam.Run(50, 2, i =>
        {
            Interlocked.Increment(ref runs[i]);
            if (i == 17) throw new InvalidOperationException("part 17");
        }));
        Assert.Equal("part 17", e.Message);
        Assert.All(runs, r => Assert.Equal(1, r));
        var after = new int[10];
        KernelTeam.Run(10, 2, i => after[i]++);                                            // the team still serves the next job
        Assert.All(after, r => Assert.Equal(1, r));
    }

    [Fact]
    public async Task Run_FromSeveralThreadsAtOnce_CompletesEachJob()
    {
        const int jobs = 200, parts = 33;
        var totals = new long[4];
        await Task.WhenAll(Enumerable.Range(0, 4).Select(caller => Task.Run(() =>
        {
            for (int j = 0; j < jobs; j++)
            {
                long sum = 0;
                KernelTeam.Run(parts, 2, i => Interlocked.Add(ref sum, i + 1));
                Assert.Equal(parts * (parts + 1) / 2, sum);
                totals[caller] += sum;
            }
        })));
        Assert.All(totals, t => Assert.Equal(jobs * parts * (parts + 1) / 2, t));
    }
}
