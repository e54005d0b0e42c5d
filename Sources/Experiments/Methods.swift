import Detectors

/// Every method the tool can run, by name.
public enum MethodRegistry {
    public static let all: [MethodEntry] = [
        MethodEntry(
            "iforest", IsolationForest.self, defaults: .init(),
            summary: "Isolation Forest (Liu et al. 2008): 100 trees of 256 samples; score 2^(−E[h(x)]/c(ψ))."),
        MethodEntry(
            "ocsvm", OneClassSVM.self, defaults: .init(),
            summary: "One-class SVM with an RBF kernel (LIBSVM-style SMO solver); score −decision_function."),
        MethodEntry(
            "kde", KernelDensity.self, defaults: .init(),
            summary: "Gaussian kernel density, bandwidth by 5-fold cross-validated likelihood; score −log p̂(x)."),
        MethodEntry(
            "knn", KNearestNeighbors.self, defaults: .init(),
            summary: "Distance to the k-th nearest training sample (k = 5, PyOD's 'largest')."),
        MethodEntry(
            "pca", PCAReconstruction.self, defaults: .init(),
            summary: "PCA outlier score (PyOD's weighted distance to the principal components)."),
        MethodEntry(
            "gmm", GaussianMixture.self, defaults: .init(),
            summary: "Gaussian mixture (full covariances, EM); score −log-likelihood."),
        MethodEntry(
            "autoencoder", AutoencoderDetector.self, defaults: .init(),
            summary: "Autoencoder reconstruction error (Deep SVDD's LeNet autoencoder for MNIST/CIFAR shapes, an MLP otherwise)."),
        MethodEntry(
            "deepsvdd", DeepSVDD.self, defaults: .init(),
            summary: "Deep SVDD (Ruff et al. 2018): autoencoder pre-training, then ‖φ(x) − c‖² minimised; one-class or soft-boundary (ν)."),
        MethodEntry(
            "deepsad", DeepSAD.self, defaults: .init(),
            summary: "Deep SAD (Ruff et al. 2020): Deep SVDD plus η-weighted labelled normals (pulled in) and anomalies (pushed out by 1/d)."),
        MethodEntry(
            "vae", VAE.self, defaults: .init(),
            summary: "Variational autoencoder (Kingma & Welling 2014); score: negative ELBO at z = μ."),
        MethodEntry(
            "dagmm", DAGMM.self, defaults: .init(),
            summary: "DAGMM (Zong et al. 2018): autoencoder + Gaussian mixture over [code, relative error, cosine]; score: sample energy."),
        MethodEntry(
            "goad", GOAD.self, defaults: .init(),
            summary: "GOAD (Bergman & Hoshen 2020), tables: M random affine maps, classifier over maps + triplet-centre loss; score −Σ log P(m|T_m x)."),
        MethodEntry(
            "drocc", DROCC.self, defaults: .init(),
            summary: "DROCC (Goyal et al. 2020): classifier against negatives found by gradient ascent on a shell around the data; score −logit."),
        MethodEntry(
            "cance", CANCE.self, defaults: .init(),
            summary: "CANCE (Liao & Brockmeier 2025): decorrelated-latent autoencoder, composite feature [z, error, 1 − cos], density by NCE against an adversarially widened Gaussian; variant=error|latnce|cnce|cance."),
        MethodEntry(
            "simclr", CSI.self, defaults: .simclr,
            summary: "SimCLR (Chen et al. 2020) on a CIFAR ResNet: NT-Xent over two augmented views; score: max cosine of the 10-view mean projection to the training projections (CSI's 'simclr' score)."),
        MethodEntry(
            "csi", CSI.self, defaults: .init(),
            summary: "CSI (Tack et al. 2020): rotations as shifted instances in NT-Xent plus rotation prediction; score: norm-weighted nearest-neighbour cosine + rotation logit over 4 rotations × 10 views."),
        MethodEntry(
            "csi-synthetic", SyntheticCSI.self, defaults: .init(),
            summary: "CSI + synthetic inliers (Yu & Chiu 2021): CSI trained jointly with an adversarial autoencoder (SN-GAN G, E, D, latent D′) whose synthetic images join the contrastive batches every 5th step; score: norm-weighted cosine to one nearest training image shared by 4 rotations × 10 views."),
        MethodEntry(
            "nsa", NSA.self, defaults: .init(),
            summary: "NSA (Yousef et al. 2023): SimSiam/BYOL/SimCLR with L2-normalisations; score: angular Mahalanobis k-Cos or c-Cos, optionally ensembled over layers; variant=simsiam|byol|simclr, normalized, shiftedNegatives."),
        MethodEntry(
            "elsa", Elsa.self, defaults: .init(),
            summary: "Elsa (Han et al. 2021): SimCLR pre-training (or pretrained=<simclr run>), K = 50 spherical k-means prototypes, fine-tuning with the inverse-energy loss on labelled normals/anomalies, early stopping on RandAugment views; score: −LSE of prototype cosines."),
        MethodEntry(
            "elsa+", Elsa.self, defaults: .plus,
            summary: "Elsa+ (Han et al. 2021): Elsa on a CSI network (pretrained=<csi run>) with rotation-augmented fine-tuning, the rotation loss, frozen BatchNorm and a 10-view × 4-rotation test ensemble."),
        MethodEntry(
            "hscl", HSCL.self, defaults: .init(),
            summary: "HSCL (Wang et al. 2022), semi-supervised: CSI's loss plus learnable normal prototypes (S-P) and a normal-vs-labelled-anomaly contrast with prototype-weighted sampling (N-A); score: CSI's with the prototype for the nearest training axis (score=csi) or max cosine to a prototype (score=prototype)."),
    ]

    /// The methods `anomaly demo` compares by default: CANCE, the seed method, first.
    public static let demoMethods: [String] = ["cance", "autoencoder", "knn", "pca", "iforest"]

    /// Options of the demo's runs. The demo subset has only ~200 normal training images, so the
    /// deep methods take small batches and more epochs.
    public static let demoOptions: [String: [String: String]] = [
        "autoencoder": ["training.epochs": "100", "training.batchSize": "32"],
        "cance": [
            "autoencoder.epochs": "40", "autoencoder.batchSize": "32", "decoder.epochs": "10", "decoder.batchSize": "32",
            "nce.epochs": "60", "nce.batchSize": "64",
        ],
    ]

    /// The entry for `name`, or an error listing the known names.
    public static func entry(named name: String) throws -> MethodEntry {
        guard let entry = all.first(where: { $0.name == name }) else {
            throw ExperimentError.unknownMethod(name, known: all.map(\.name))
        }
        return entry
    }
}
