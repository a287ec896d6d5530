using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

public sealed class TightRateLimitFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["RateLimitOptions:PermitsPerMinute"] = "2" };
}
