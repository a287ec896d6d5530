using DetailFlow.Core.Runtime;

namespace DetailFlow.Core.Tests.Runtime;

public class TorchThreadsTests
{
    [Fact]
    public void ConfigureSetsTheCallingThreadsCountAndZeroKeepsTheDefault()
    {
        int configured = 0, kept = 0, fresh = 0;
        var thread = new Thread(() =>
        {
            fresh = TorchThreads.Current;
            TorchThreads.Configure(fresh + 1);   // unlike the default, so the check can fail
            configured = TorchThreads.Current;
            TorchThreads.Configure(0);
            kept = TorchThreads.Current;
        });
        thread.Start();
        thread.Join();
        Assert.Equal(fresh + 1, configured);
        Assert.Equal(fresh + 1, kept);
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchThreads.Configure(-1));
    }
}
