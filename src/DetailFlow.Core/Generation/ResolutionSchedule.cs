using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Core.Generation;

/// <summary>
/// Token count ↔ decoder resolution (spec §5; official <c>ResolutionDegradation</c>, <c>modelling/detail_token.py</c>).
/// r_t = clamp(trunc(R − (R−1)/(N−1)^p · (N−t)^p), 1, R); d_t = smart resize of r_t to a patch multiple (ceil);
/// valid prefix lengths are 1..C and the multiples of G above C up to N.
/// </summary>
public sealed class ResolutionSchedule
{
    private readonly Dictionary<int, int> _token2Res = [];
    private readonly Dictionary<int, int> _token2DecRes = [];
    private readonly Dictionary<int, int> _token2EncRes = [];
    private readonly List<(int Res, int Token)> _decRes2BestToken = [];   // insertion order = first appearance
    private readonly List<(int Res, int Token)> _encRes2BestToken = [];
    private readonly Dictionary<int, int> _decRes2MinToken = [];
    private readonly Dictionary<int, int> _decRes2MaxToken = [];

    public ResolutionSchedule(int maxImageSize, int maxTokenNum, int groupSize, int? causalNum, double power,
        int encPatchSize, int decPatchSize, int minDecRes)
    {
        if (maxImageSize <= 0) throw new ArgumentOutOfRangeException(nameof(maxImageSize), maxImageSize, "must be positive");
        if (groupSize <= 0 || maxTokenNum <= 0 || maxTokenNum % groupSize != 0)
            throw new ArgumentException($"token count {maxTokenNum} must be a positive multiple of group size {groupSize}");
        int c = causalNum ?? groupSize;
        if (c <= 0 || c % groupSize != 0 || c > maxTokenNum)
            throw new ArgumentException($"causal_num {c} must be a positive multiple of group size {groupSize}, at most {maxTokenNum}");
        if (encPatchSize <= 0 || decPatchSize <= 0 || encPatchSize > decPatchSize)
            throw new ArgumentException($"patch sizes enc {encPatchSize} / dec {decPatchSize}: need 0 < enc <= dec");
        if (minDecRes % encPatchSize != 0 || minDecRes % decPatchSize != 0)
            throw new ArgumentException($"min decoder resolution {minDecRes} must be a multiple of both patch sizes");

        (MaxImageSize, TokenCount, GroupSize, CausalNum, Power) = (maxImageSize, maxTokenNum, groupSize, c, power);
        (EncPatchSize, DecPatchSize, MinDecRes) = (encPatchSize, decPatchSize, minDecRes);
        ValidPrefixes = Enumerable.Range(1, c).Concat(Enumerable.Range(c / groupSize + 1, maxTokenNum / groupSize - c / groupSize)
            .Select(g => g * groupSize)).ToArray();

        var lastDecDiff = new Dictionary<int, int>();
        var lastEncDiff = new Dictionary<int, int>();
        foreach (int t in ValidPrefixes)
        {
            int r = TokenResolution(maxImageSize, maxTokenNum, t, power);
            int dec = SmartSize(r, decPatchSize, CeilDiv(maxImageSize, decPatchSize));
            int enc = SmartSize(r, encPatchSize, CeilDiv(maxImageSize, encPatchSize));
            _token2Res[t] = r;
            _token2DecRes[t] = dec;
            _token2EncRes[t] = enc;
            Best(_encRes2BestToken, lastEncDiff, enc, Math.Abs(r - enc), t);
            Best(_decRes2BestToken, lastDecDiff, dec, Math.Abs(r - dec), t);
            _decRes2MinToken[dec] = Math.Min(_decRes2MinToken.GetValueOrDefault(dec, maxTokenNum), t);
            _decRes2MaxToken[dec] = Math.Max(_decRes2MaxToken.GetValueOrDefault(dec, 1), t);
        }

        void Best(List<(int Res, int Token)> table, Dictionary<int, int> lastDiff, int res, int diff, int t)
        {
            // Ties go to the later t (the official "<=").
            if (diff > lastDiff.GetValueOrDefault(res, maxImageSize)) return;
            int i = table.FindIndex(e => e.Res == res);
            if (i >= 0) table[i] = (res, t); else table.Add((res, t));
            lastDiff[res] = diff;
        }
    }

    /// <summary>The schedule the official loader builds for a tokenizer (spec §4.3): min decoder resolution = decoder patch.</summary>
    public static ResolutionSchedule For(TokenizerConfig c) => new(c.MaxImageSize, c.NumLatentTokens, c.GroupSize,
        c.CausalNum, c.DegradationPower, c.EncPatchSize, c.DecPatchSize, c.DecPatchSize);

    public int MaxImageSize { get; }
    public int TokenCount { get; }
    public int GroupSize { get; }
    public int CausalNum { get; }
    public double Power { get; }
    public int EncPatchSize { get; }
    public int DecPatchSize { get; }
    public int MinDecRes { get; }

    /// <summary><c>token_list</c>: 1..C, then every multiple of G above C up to N.</summary>
    public IReadOnlyList<int> ValidPrefixes { get; }

    public bool IsValidPrefix(int t) => _token2Res.ContainsKey(t);

    /// <summary><c>token2res[t]</c>: the nominal resolution r_t.</summary>
    public int Resolution(int t) => Lookup(_token2Res, t);

    /// <summary><c>token2dec_res[t]</c>.</summary>
    public int DecoderResolutionRaw(int t) => Lookup(_token2DecRes, t);

    /// <summary><c>token2enc_res[t]</c>.</summary>
    public int EncoderResolution(int t) => Lookup(_token2EncRes, t);

    /// <summary><c>token2dec_out_res[t]</c>: the size the first t codes decode to (max(d_t, min decoder resolution)).</summary>
    public int DecoderResolution(int t) => Math.Max(Lookup(_token2DecRes, t), MinDecRes);

    /// <summary><c>decres2besttoken</c> in first-appearance order (ascending resolution).</summary>
    public IReadOnlyList<(int Resolution, int Tokens)> BestTokens => _decRes2BestToken;
    public IReadOnlyList<(int Resolution, int Tokens)> EncoderBestTokens => _encRes2BestToken;
    public IReadOnlyDictionary<int, int> MinTokens => _decRes2MinToken;
    public IReadOnlyDictionary<int, int> MaxTokens => _decRes2MaxToken;

    /// <summary>The best token count for a decoder resolution, or null when no prefix decodes to it.</summary>
    public int? BestTokenFor(int resolution) => _decRes2BestToken.FirstOrDefault(e => e.Res == resolution) is { Token: > 0 } e ? e.Token : null;

    /// <summary>The distinct decoder resolutions, ascending (<c>best_res</c>).</summary>
    public IReadOnlyList<int> Resolutions => _decRes2BestToken.Select(e => e.Res).ToArray();

    /// <summary>token_res_map_func (IEEE double, truncation toward zero, then clamp to [1, R]).</summary>
    public static int TokenResolution(int maxSize, int maxTokenNum, int t, double p)
    {
        double b = (maxSize - 1) / Math.Pow(maxTokenNum - 1, p);
        int s = (int)(maxSize - b * Math.Pow(maxTokenNum - t, p));
        return Math.Max(1, Math.Min(s, maxSize));
    }

    /// <summary>custom_smart_resize for a square side h with factor f and at most maxSide patches per side.</summary>
    public static int SmartSize(int h, int f, int maxSide)
    {
        if (h < f) return f;
        long maxPixels = (long)maxSide * maxSide * f * f, minPixels = (long)f * f;
        int bar = CeilDiv(h, f) * f;
        if ((long)bar * bar > maxPixels) return (int)Math.Floor(h / (h / Math.Sqrt(maxPixels)) / f) * f;
        if ((long)bar * bar < minPixels) return (int)Math.Ceiling(h * Math.Sqrt(minPixels / ((double)h * h)) / f) * f;
        return bar;
    }

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;

    private int Lookup(Dictionary<int, int> table, int t) => table.TryGetValue(t, out int v) ? v
        : throw new ArgumentOutOfRangeException(nameof(t), t,
            $"{t} tokens is not on the schedule (valid: 1..{CausalNum} and multiples of {GroupSize} up to {TokenCount})");
}
