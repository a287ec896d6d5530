using System.Net;
using System.Net.Http.Json;

namespace DetailFlow.Api.Tests;

public sealed class SmallQueueFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["BatcherOptions:QueueCapacity"] = "1", ["BatcherOptions:MaxRows"] = "2",
    };
}
