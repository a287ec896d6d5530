namespace DetailFlow.Api.Tests;

/// <summary>The service with API keys on (two keys), the admin key separate.</summary>
public sealed class KeyedApiFactory : ApiFactory
{
    public const string Key = "k1-test-key";
    public const string OtherKey = "k2-other-key";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Auth:ApiKeys:0"] = Key, ["Auth:ApiKeys:1"] = OtherKey, ["Admin:ApiKey"] = AdminFactory.Key,
    };
}
