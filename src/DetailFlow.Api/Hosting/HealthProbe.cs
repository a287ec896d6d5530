namespace DetailFlow.Api.Hosting;

/// <summary>
/// <c>dotnet DetailFlow.Api.dll --healthcheck [url]</c>: GETs <c>/healthz</c> of the running service and exits 0 when it
/// answers 2xx, 1 otherwise (within 3 s). It loads no model and no libtorch, so the container's HEALTHCHECK needs no curl.
/// Without a url it asks the port the service listens on: the first of <c>ASPNETCORE_HTTP_PORTS</c> (the ASP.NET images
/// set 8080), else the first of <c>ASPNETCORE_URLS</c>, else 8080, on 127.0.0.1.
/// </summary>
public static class HealthProbe
{
    public const string Flag = "--healthcheck";

    public static bool IsRequested(string[] args) => args.Length > 0 && args[0] == Flag;

    public static int Run(string[] args)
    {
        var url = args.Length > 1 ? new Uri(args[1]) : DefaultUrl(Environment.GetEnvironmentVariable);
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
            using var response = client.GetAsync(url).GetAwaiter().GetResult();
            Console.WriteLine($"{url}: {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"{url}: {e.Message}");
            return 1;
        }
    }

    /// <summary>The service's own <c>/healthz</c> on loopback, from the same variables Kestrel reads.</summary>
    public static Uri DefaultUrl(Func<string, string?> env)
    {
        static string? First(string? list) => list?.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (First(env("ASPNETCORE_HTTP_PORTS")) is { } port) return new Uri($"http://127.0.0.1:{port}/healthz");
        if (First(env("ASPNETCORE_URLS")) is { } bound)
        {
            // http://+:80, http://*:80, http://0.0.0.0:80, http://[::]:80 → loopback on that port
            var listen = new Uri(bound.Replace("://+", "://0.0.0.0").Replace("://*", "://0.0.0.0"));
            return new UriBuilder(listen.Scheme, "127.0.0.1", listen.Port, "/healthz").Uri;
        }
        return new Uri("http://127.0.0.1:8080/healthz");
    }
}
