namespace DetailFlow.Parity;

/// <summary>One kind of fixture case (README "Cases"): recognises its case names and checks one against the port.</summary>
public interface IParityCase
{
    /// <summary>Short kind name printed in the report (e.g. <c>gpt_forward</c>).</summary>
    string Kind { get; }

    bool Handles(string caseName);

    void Check(FixtureSet fixtures, string caseName, ParityReport report, CancellationToken cancellationToken);
}
