using DetailFlow.Training.Evaluation;
using DetailFlow.Training.Evaluation.Inception;

namespace DetailFlow.Cli.Commands;

/// <summary>(weights path, preprocessing) → the feature network of the evaluation commands: the FID Inception unless a test substitutes one.</summary>
public delegate IFeatureExtractor FeatureExtractorFactory(string weightsPath, InceptionResize resize);
