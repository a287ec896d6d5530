using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>The tiny model with ModelOptions:DType = Auto (the default): precision probed at load.</summary>
public sealed class AutoPrecisionFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["ModelOptions:DType"] = "Auto" };
}
