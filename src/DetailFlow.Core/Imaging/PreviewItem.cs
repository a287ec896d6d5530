namespace DetailFlow.Core.Imaging;

/// <summary>
/// One preview to decode: the codes generated so far (at least <see cref="PrefixLength"/> of them; only the first
/// <see cref="PrefixLength"/> are used) and the prefix length t whose scheduled resolution d_t sets the output size.
/// </summary>
public readonly record struct PreviewItem(ReadOnlyMemory<long> Codes, int PrefixLength);
