using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DetailFlow.Api.Admin;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary><c>GET /admin/jobs</c>: pages newest first (<c>limit</c>, <c>before</c> = the previous page's <c>next</c>), <c>state</c> filter, bad queries → 400.</summary>
public sealed class AdminJobListTests(AdminFactory api) : IClassFixture<AdminFactory>
{
    private async Task<List<JobRecord>> SeedAsync(int count)
    {
        var store = api.Services.GetRequiredService<IJobStore>();
        var start = DateTimeOffset.UtcNow.AddDays(-1);
        var jobs = Enumerable.Range(0, count).Select(i => new JobRecord
        {
            Id = $"list{i:D2}", Name = $"job {i}", Kind = "ar", Folder = Path.Combine(api.DataFolder, "jobs", $"list{i:D2}"),
            Spec = new JobSpec { Kind = "ar", Name = $"job {i}" }, State = i % 2 == 0 ? JobState.Completed : JobState.Failed,
            Created = start.AddMinutes(i), Updated = start.AddMinutes(i),
        }).ToList();
        foreach (var job in jobs) await store.SaveAsync(job, CancellationToken.None);   // terminal states: nothing is queued
        return jobs;
    }

    private static async Task<(List<string> Ids, List<string> States, string? Next)> PageAsync(HttpClient admin, string query)
    {
        var page = await admin.GetFromJsonAsync<JsonElement>("/admin/jobs" + query);
        var jobs = page.GetProperty("jobs").EnumerateArray().ToList();
        var next = page.GetProperty("next");
        return (jobs.Select(j => j.GetProperty("id").GetString()!).ToList(), jobs.Select(j => j.GetProperty("state").GetString()!).ToList(),
            next.ValueKind == JsonValueKind.Null ? null : next.GetString());
    }

    [Fact]
    public async Task List_PagesNewestFirst_AndFiltersByState()
    {
        var seeded = await SeedAsync(7);
        using var admin = api.Admin();
        var newestFirst = seeded.OrderByDescending(j => j.Created).Select(j => j.Id).ToList();

        var (all, _, none) = await PageAsync(admin, "");
        Assert.Equal(newestFirst, all);   // 7 < the default page
        Assert.Null(none);

        var walked = new List<string>();
        string? cursor = null;
        int pages = 0;
        do
        {
            var (ids, _, next) = await PageAsync(admin, "?limit=3" + (cursor is null ? "" : "&before=" + cursor));
            Assert.InRange(ids.Count, 1, 3);
            walked.AddRange(ids);
            cursor = next;
            pages++;
        } while (cursor is not null);
        Assert.Equal(newestFirst, walked);
        Assert.Equal(3, pages);

        var (failed, states, _) = await PageAsync(admin, "?state=failed");
        Assert.Equal(seeded.Where(j => j.State == JobState.Failed).OrderByDescending(j => j.Created).Select(j => j.Id), failed);
        Assert.All(states, s => Assert.Equal("failed", s));
        var (firstFailed, _, nextFailed) = await PageAsync(admin, "?state=failed&limit=2");
        Assert.Equal(failed.Take(2), firstFailed);
        var (restFailed, _, end) = await PageAsync(admin, $"?state=failed&limit=2&before={nextFailed}");
        Assert.Equal(failed.Skip(2), restFailed);
        Assert.Null(end);
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=501", "limit")]
    [InlineData("?limit=abc", "limit")]
    [InlineData("?limit=-3", "limit")]
    [InlineData("?state=bogus", "state")]
    [InlineData("?state=Failed", "state")]
    [InlineData("?before=no-such-job", "before")]
    public async Task List_BadQuery_Is400NamingTheField(string query, string field)
    {
        using var admin = api.Admin();
        var response = await admin.GetAsync("/admin/jobs" + query);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }
}
