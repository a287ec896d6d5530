using System.Globalization;
using System.Net.Http.Json;
using DetailFlow.Api.Batching;
using DetailFlow.Core.Generation;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Runs alone (no other test class in parallel): OpenTelemetry listens to every <c>DetailFlow.Api</c> meter in the
/// process, so another fixture's traffic would otherwise show up in this server's <c>/metrics</c>.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics";
}
