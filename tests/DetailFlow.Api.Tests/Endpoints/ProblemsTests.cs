using DetailFlow.Api.Batching;
using DetailFlow.Api.Endpoints;
using Microsoft.AspNetCore.Http;

namespace DetailFlow.Api.Tests;

public sealed class ProblemsTests
{
    [Fact]
    public void Map_KnownFailures_TheirStatus_AndRetryAfterWhereTheyAskToWait()
    {
        var http = new DefaultHttpContext();
        Assert.Equal(429, Problems.Map(new QueueFullException(3), http)?.StatusCode);
        Assert.Equal("3", http.Response.Headers.RetryAfter.ToString());
        Assert.Equal(503, Problems.Map(new ServiceStoppingException(false, 10, 2), new DefaultHttpContext())?.StatusCode);
        Assert.Equal(504, Problems.Map(new DeadlineExceededException(5), new DefaultHttpContext())?.StatusCode);
    }

    [Fact]
    public void Map_AnInternalArgumentException_IsNotAClientError()
    {
        // Bad input is caught by validation (400 with the field); an ArgumentException after it is a bug of the service.
        Assert.Null(Problems.Map(new ArgumentException("bad prefix"), new DefaultHttpContext()));
        Assert.Equal(500, Problems.ForStream(new ArgumentException("bad prefix"), new DefaultHttpContext()).Status);
    }
}
