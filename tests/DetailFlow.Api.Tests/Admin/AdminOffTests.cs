using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Diagnostics.Metrics;
using DetailFlow.Api.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>With no <c>Admin:ApiKey</c> the admin API is off: 401 for everyone, whatever key they send.</summary>
public sealed class AdminOffTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task NoKeyConfigured_EveryAdminRequestIs401()
    {
        using var client = api.Client();
        client.DefaultRequestHeaders.Add("X-Api-Key", "anything");
        var response = await client.GetAsync("/admin/jobs");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Admin__ApiKey", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsJsonAsync("/admin/models/activate", new { job_id = "x" })).StatusCode);
        using var plain = api.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await plain.GetAsync("/admin/models")).StatusCode);
    }

    [Fact]
    public async Task NoKeyConfigured_StartUpLogsThatAdminIsOff()
    {
        string data = Path.Combine(Path.GetTempPath(), "detailflow-admin-off-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            using var service = await ServiceProcess.StartAdminAsync(data, new Dictionary<string, string> { ["Admin__ApiKey"] = "" });
            Assert.Contains("Admin API is off", service.Output);
            using var client = service.Admin();
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/admin/jobs")).StatusCode);
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }
    }
}
