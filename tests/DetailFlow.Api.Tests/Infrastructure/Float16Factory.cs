using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using DetailFlow.Api.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>The tiny model served in half precision (ModelOptions:DType = Float16, the setting measured for GPT-L on CPU).</summary>
public sealed class Float16Factory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["ModelOptions:DType"] = "Float16" };
}
