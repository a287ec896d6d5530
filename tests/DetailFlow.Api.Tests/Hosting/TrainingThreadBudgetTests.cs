using TorchSharp;

namespace DetailFlow.Api.Tests;

/// <summary>
/// The admin worker's thread budget relies on libtorch's intra-op thread count being per OS thread (OpenMP) once a
/// thread has run an op: the inference thread sets its count and warms up at start, so a training thread's later
/// <c>set_num_threads(Admin:TrainingThreads)</c> must leave it alone. (A thread's first op adopts the last count set
/// anywhere, which is why the loader sets the count and warms up on the inference thread before serving.)
/// </summary>
public sealed class TrainingThreadBudgetTests
{
    [Fact]
    public void SetNumThreadsOnTheTrainingThread_LeavesTheServingThreadsCount()
    {
        int serving = -1, training = -1, servingAfter = -1;
        var gate = new Barrier(2);
        var inference = new Thread(() =>
        {
            torch.set_num_threads(1);
            using (var warm = torch.ones(64, 64)) using (var product = warm.matmul(warm)) { }   // the warm-up's first op
            serving = torch.get_num_threads();
            gate.SignalAndWait();   // the training thread sets its budget now
            gate.SignalAndWait();
            servingAfter = torch.get_num_threads();
        });
        var trainer = new Thread(() =>
        {
            gate.SignalAndWait();
            torch.set_num_threads(3);
            training = torch.get_num_threads();
            gate.SignalAndWait();
        });
        inference.Start();
        trainer.Start();
        Assert.True(inference.Join(TimeSpan.FromSeconds(30)) && trainer.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, serving);
        Assert.Equal(3, training);
        Assert.Equal(1, servingAfter);
    }
}
