using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace DetailFlow.Api.Tests;

/// <summary>The tiny model's service with its log lines kept.</summary>
public sealed class LogCapturingFactory : ApiFactory
{
    public ConcurrentQueue<string> Lines { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging => logging.AddProvider(new Capture(Lines)));
    }

    private sealed class Capture(ConcurrentQueue<string> lines) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) lines.Enqueue(formatter(state, exception));
        }
        public void Dispose() { }
    }
}

public sealed partial class LoadMemoryTests(LogCapturingFactory api) : IClassFixture<LogCapturingFactory>
{
    /// <summary>
    /// The heap the load freed (read buffers, probe weights, plain copies of packed weights) is handed back before the
    /// service reports ready, not at the inference thread's first trim; the log says how much.
    /// </summary>
    [Fact]
    public void Load_HandsTheFreedHeapBack_BeforeReady()
    {
        if (!OperatingSystem.IsLinux()) return;                                          // malloc_trim is glibc's
        var line = Assert.Single(api.Lines, l => l.Contains("with its freed heap handed back", StringComparison.Ordinal));
        var match = Resident().Match(line);
        Assert.True(match.Success, line);
        Assert.InRange(long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), 1, long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) + 64);
    }

    [GeneratedRegex(@"resident (\d+) MB after the load, (\d+) MB")]
    private static partial Regex Resident();
}
