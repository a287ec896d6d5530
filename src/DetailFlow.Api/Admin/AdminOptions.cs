using System.ComponentModel.DataAnnotations;

namespace DetailFlow.Api.Admin;

/// <summary>The admin API and its training worker (section <c>Admin</c>; <c>Admin__ApiKey</c> in the environment).</summary>
public sealed class AdminOptions
{
    /// <summary>The key <c>/admin/*</c> expects in <c>X-Api-Key</c>. Empty: admin is off (every admin request gets 401).</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>Jobs (<c>jobs.json</c> without Redis) and their folders (<c>jobs/&lt;id&gt;</c>: dataset, checkpoints and, with Redis, a copy of the record in <c>job.json</c>).</summary>
    [Required(ErrorMessage = "Admin:DataFolder must be set")]
    public string DataFolder { get; set; } = "data";

    /// <summary>Largest uploaded archive (bytes).</summary>
    [Range(1024, long.MaxValue, ErrorMessage = "Admin:MaxUploadBytes must be at least 1024")]
    public long MaxUploadBytes { get; set; } = 256L << 20;

    /// <summary>Largest total size of an archive's extracted files (bytes): guards against archive bombs.</summary>
    [Range(1024, long.MaxValue, ErrorMessage = "Admin:MaxExtractedBytes must be at least 1024")]
    public long MaxExtractedBytes { get; set; } = 1L << 30;

    /// <summary>Most images an uploaded archive may hold.</summary>
    [Range(1, 10_000_000, ErrorMessage = "Admin:MaxImages must be in 1..10000000")]
    public int MaxImages { get; set; } = 200_000;

    /// <summary>Largest accepted image side in pixels (decode check).</summary>
    [Range(8, 16384, ErrorMessage = "Admin:MaxImageSide must be in 8..16384")]
    public int MaxImageSide { get; set; } = 4096;

    /// <summary>
    /// Torch intra-op threads of the training thread: training shares the machine with serving (whose threads are
    /// <c>ModelOptions:Threads</c>), so keep the sum at or below the cores. libtorch's intra-op count is per OS thread
    /// (OpenMP) once the thread has run an op, so setting it on the training thread leaves the (warmed-up) inference
    /// thread's count alone (TrainingThreadBudgetTests). MKL's own count is process-wide, so GEMMs may follow the last set.
    /// </summary>
    [Range(1, 1024, ErrorMessage = "Admin:TrainingThreads must be in 1..1024")]
    public int TrainingThreads { get; set; } = 1;

    /// <summary>Seconds a worker's job lease lasts without renewal (renewed every third of it while the job runs).</summary>
    [Range(2, 3600, ErrorMessage = "Admin:LeaseSeconds must be in 2..3600")]
    public int LeaseSeconds { get; set; } = 15;

    /// <summary>This replica's name in job leases; a restarted replica with the same name marks its jobs interrupted.</summary>
    public string InstanceId { get; set; } = Environment.MachineName;

    /// <summary>Most steps any job may run.</summary>
    [Range(1, 100_000_000, ErrorMessage = "Admin:MaxSteps must be in 1..100000000")]
    public long MaxSteps { get; set; } = 10_000_000;
}
