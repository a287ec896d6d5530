namespace DetailFlow.Tests;

/// <summary>
/// The one bounded wait of the test projects: poll a condition with a short delay until it holds or the time is up,
/// then fail with the caller's message and what the probe last saw. Tests wait for states, never for durations.
/// Linked into each test project that needs it (see the projects' csproj).
/// </summary>
public static class Wait
{
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(25);

    /// <summary>Waits until <paramref name="condition"/> holds; fails with <paramref name="message"/>.</summary>
    public static Task Eventually(Func<bool> condition, TimeSpan timeout, string message) =>
        Eventually(() => Task.FromResult(condition()), ok => ok, timeout, message);

    /// <summary>Waits until <paramref name="condition"/> holds; fails with <paramref name="message"/>.</summary>
    public static Task Eventually(Func<Task<bool>> condition, TimeSpan timeout, string message) =>
        Eventually(condition, ok => ok, timeout, message);

    /// <summary>Reads <paramref name="probe"/> until <paramref name="done"/> holds for its value and returns that value;
    /// fails with <paramref name="message"/> and the last value read (through <paramref name="describe"/> when given).</summary>
    public static Task<T> Eventually<T>(Func<T> probe, Func<T, bool> done, TimeSpan timeout, string message, Func<T, string>? describe = null) =>
        Eventually(() => Task.FromResult(probe()), done, timeout, message, describe);

    /// <inheritdoc cref="Eventually{T}(Func{T}, Func{T, bool}, TimeSpan, string, Func{T, string}?)"/>
    public static async Task<T> Eventually<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string message,
        Func<T, string>? describe = null)
    {
        using var time = new CancellationTokenSource(timeout);
        while (true)
        {
            var seen = await probe().ConfigureAwait(false);
            if (done(seen)) return seen;
            if (time.IsCancellationRequested)
                throw new TimeoutException($"{message} (not within {timeout.TotalSeconds:0.#} s; last saw: {Describe(describe is null ? seen : (object)describe(seen))})");
            try { await Task.Delay(Pause, time.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }   // one last probe after the time is up
        }
    }

    private static string Describe(object? seen) => seen switch
    {
        null => "null",
        string s when s.Length > 2000 => s[..2000] + "…",
        _ => seen.ToString() ?? "",
    };
}
